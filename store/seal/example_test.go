package seal_test

import (
	"fmt"
	"strings"

	"github.com/openhealthexchange/ohx/store/seal"
)

func Example() {
	// In the daemon the value comes from OHX_SECRET_KEYS; here, a fixed key.
	ring, err := seal.ParseKeyRing("k2026:" + strings.Repeat("A", 43) + "=")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := seal.Context("link-42", "refresh_token")
	sealed, err := ring.Seal([]byte("a refresh token"), ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(seal.KeyID(sealed))

	plain, err := ring.Open(sealed, ctx)
	fmt.Println(string(plain), err)

	_, err = ring.Open(sealed, seal.Context("link-43", "refresh_token"))
	fmt.Println(err)
	// Output:
	// k2026
	// a refresh token <nil>
	// seal: cannot open ciphertext
}
