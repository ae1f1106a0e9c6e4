package oauth1

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestAuthorizationHeaderRoundTrip: a header built by AuthorizationHeader
// is collected and verified by the server side, query and form included.
func TestAuthorizationHeaderRoundTrip(t *testing.T) {
	protocol := url.Values{
		"oauth_consumer_key": {"key"}, "oauth_token": {"tok en"}, "oauth_signature_method": {"HMAC-SHA1"},
		"oauth_timestamp": {"1318622958"}, "oauth_nonce": {"n+/="}, "oauth_version": {"1.0"},
	}
	form := url.Values{"weight": {"73.5"}, "note": {"a&b"}}
	u, _ := url.Parse("http://Gateway.example:80/1/user/-/body/log/weight.json?date=2015-06-01&x=%2B1")
	h, err := AuthorizationHeader("POST", u, form, protocol, "consumer secret", "token&secret")
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", u.String(), strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", h)
	params, got, err := Collect(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseParams(got)
	if err != nil {
		t.Fatal(err)
	}
	if p.Token != "tok en" || p.Nonce != "n+/=" {
		t.Fatalf("parsed %+v", p)
	}
	if !Verify(p.SignatureMethod, BaseString("POST", u, params), "consumer secret", "token&secret", p.Signature) {
		t.Fatalf("header %q does not verify", h)
	}
	if _, err := AuthorizationHeader("GET", u, nil, url.Values{"oauth_signature_method": {"RSA-SHA1"}}, "", ""); err == nil {
		t.Fatal("RSA-SHA1 signed")
	}
}
