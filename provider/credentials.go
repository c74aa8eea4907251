package provider

import (
	"context"
	"errors"

	"github.com/openhealthexchange/ohx"
)

// FreshToken returns the Credentials of an access token just obtained, for
// the calls a provider makes right after the code exchange, before the
// link's token is stored (reading the user's id or time zone). Token returns
// it; ForceRefresh fails with ohx.KindAuth, since a refresh cannot help a
// token that new.
func FreshToken(provider, accessToken string) Credentials {
	return freshToken{provider: provider, token: accessToken}
}

type freshToken struct{ provider, token string }

func (t freshToken) Token(context.Context) (ohx.Token, error) {
	return ohx.Token{AccessToken: t.token}, nil
}

func (t freshToken) ForceRefresh(context.Context, string) (ohx.Token, error) {
	return ohx.Token{}, &ohx.ProviderError{Provider: t.provider, Op: "token", Kind: ohx.KindAuth, Err: errors.New("fresh access token refused")}
}
