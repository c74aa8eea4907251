package publish_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// TestMain compiles the R5 schema once, outside any synctest bubble.
func TestMain(m *testing.M) {
	if err := validate.Ready(); err != nil {
		fmt.Fprintln(os.Stderr, "R5 schema:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
