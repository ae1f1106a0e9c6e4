package oauth1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// RFC 5849 §3.4.1.1: the request, verbatim (including the folded header).
const rfcRequest = "POST /request?b5=%3D%253D&a3=a&c%40=&a2=r%20b HTTP/1.1\r\n" +
	"Host: example.com\r\n" +
	"Content-Type: application/x-www-form-urlencoded\r\n" +
	"Authorization: OAuth realm=\"Example\",\r\n" +
	"                oauth_consumer_key=\"9djdj82h48djs9d2\",\r\n" +
	"                oauth_token=\"kkk9d7dh3k39sjv7\",\r\n" +
	"                oauth_signature_method=\"HMAC-SHA1\",\r\n" +
	"                oauth_timestamp=\"137131201\",\r\n" +
	"                oauth_nonce=\"7d8f3e4a\",\r\n" +
	"                oauth_signature=\"bYT5CMsGcbgUdFHObYMEfcx6bsw%3D\"\r\n" +
	"Content-Length: 9\r\n" +
	"\r\n" +
	"c2&a3=2+q"

const rfcBase = "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q" +
	"%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9dj" +
	"dj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1" +
	"%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"

// serverURL builds the URL a server passes to BaseString.
func serverURL(r *http.Request, scheme string) *url.URL {
	return &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath}
}

func TestRFC5849BaseString(t *testing.T) {
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(rfcRequest)))
	if err != nil {
		t.Fatal(err)
	}
	params, protocol, err := Collect(r, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if got := BaseString(r.Method, serverURL(r, "http"), params); got != rfcBase {
		t.Errorf("base string\n got %s\nwant %s", got, rfcBase)
	}
	if got := protocol["oauth_signature"]; got != "bYT5CMsGcbgUdFHObYMEfcx6bsw=" {
		t.Errorf("oauth_signature = %q", got)
	}
	if _, ok := params["realm"]; ok {
		t.Error("realm must not be a signed parameter")
	}
	if _, ok := params["oauth_signature"]; ok {
		t.Error("oauth_signature must not be a signed parameter")
	}
	p, err := ParseParams(protocol)
	if err != nil {
		t.Fatal(err)
	}
	want := Params{ConsumerKey: "9djdj82h48djs9d2", Token: "kkk9d7dh3k39sjv7", SignatureMethod: HMACSHA1,
		Signature: "bYT5CMsGcbgUdFHObYMEfcx6bsw=", Timestamp: 137131201, Nonce: "7d8f3e4a"}
	if p != want {
		t.Errorf("ParseParams = %+v, want %+v", p, want)
	}
	body, _ := io.ReadAll(r.Body)
	if string(body) != "c2&a3=2+q" {
		t.Errorf("body not restored: %q", body)
	}
}

func TestNormalizedParameters(t *testing.T) {
	// RFC 5849 §3.4.1.3.2.
	params := url.Values{
		"b5":                     {"=%3D"},
		"a3":                     {"a", "2 q"},
		"c@":                     {""},
		"a2":                     {"r b"},
		"oauth_consumer_key":     {"9djdj82h48djs9d2"},
		"oauth_token":            {"kkk9d7dh3k39sjv7"},
		"oauth_signature_method": {"HMAC-SHA1"},
		"oauth_timestamp":        {"137131201"},
		"oauth_nonce":            {"7d8f3e4a"},
		"c2":                     {""},
	}
	const want = "a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9dj" +
		"dj82h48djs9d2&oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1" +
		"&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7"
	if got := normalize(params); got != want {
		t.Errorf("normalize\n got %s\nwant %s", got, want)
	}
}

// The Twitter developer documentation's "Creating a signature" example.
const (
	twitterConsumerSecret = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"
	twitterTokenSecret    = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"
	twitterBase           = "POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521"
	twitterSig            = "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
)

func twitterParams() url.Values {
	return url.Values{
		"include_entities":       {"true"},
		"oauth_consumer_key":     {"xvz1evFS4wEEPTGEFPHBog"},
		"oauth_nonce":            {"kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"},
		"oauth_signature_method": {"HMAC-SHA1"},
		"oauth_timestamp":        {"1318622958"},
		"oauth_token":            {"370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"},
		"oauth_version":          {"1.0"},
		"status":                 {"Hello Ladies + Gentlemen, a signed OAuth request!"},
	}
}

func TestTwitterExample(t *testing.T) {
	u, _ := url.Parse("https://api.twitter.com/1.1/statuses/update.json")
	base := BaseString("post", u, twitterParams())
	if base != twitterBase {
		t.Fatalf("base string\n got %s\nwant %s", base, twitterBase)
	}
	sig, err := Sign(HMACSHA1, base, twitterConsumerSecret, twitterTokenSecret)
	if err != nil || sig != twitterSig {
		t.Fatalf("Sign = %q, %v; want %q", sig, err, twitterSig)
	}
	if !Verify(HMACSHA1, base, twitterConsumerSecret, twitterTokenSecret, twitterSig) {
		t.Error("Verify rejected the correct signature")
	}
}

// The Twitter example end to end: header + query + form body, as a server sees it.
func TestTwitterExampleCollectVerify(t *testing.T) {
	const body = "status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21"
	r := httptest.NewRequest("POST", "https://api.twitter.com:443/1.1/statuses/update.json?include_entities=true", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	r.Header.Set("Authorization", `oauth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", `+
		`oauth_nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", oauth_signature="tnnArxj06cWHq44gCs1OSKk%2FjLY%3D", `+
		`oauth_signature_method="HMAC-SHA1", oauth_timestamp="1318622958", `+
		`oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", oauth_version="1.0"`)
	params, protocol, err := Collect(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	base := BaseString(r.Method, serverURL(r, "https"), params)
	if base != twitterBase {
		t.Fatalf("base string\n got %s\nwant %s", base, twitterBase)
	}
	p, err := ParseParams(protocol)
	if err != nil {
		t.Fatal(err)
	}
	if p.Signature != "tnnArxj06cWHq44gCs1OSKk/jLY=" {
		t.Errorf("signature = %q", p.Signature)
	}
	// The header above carries a stale signature; the correct one verifies.
	if Verify(p.SignatureMethod, base, twitterConsumerSecret, twitterTokenSecret, p.Signature) {
		t.Error("Verify accepted a wrong signature")
	}
	if !Verify(p.SignatureMethod, base, twitterConsumerSecret, twitterTokenSecret, twitterSig) {
		t.Error("Verify rejected the correct signature")
	}
	got, _ := io.ReadAll(r.Body)
	if string(got) != body {
		t.Errorf("body not restored: %q", got)
	}
}

func TestEncode(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "",
		"abcXYZ019-._~":      "abcXYZ019-._~",
		" ":                  "%20",
		"*":                  "%2A",
		"+":                  "%2B",
		"é":                  "%C3%A9",
		"=%3D":               "%3D%253D",
		"a/b?c&d":            "a%2Fb%3Fc%26d",
		"Ladies + Gentlemen": "Ladies%20%2B%20Gentlemen",
		"\x00\xff":           "%00%FF",
	} {
		if got := Encode(in); got != want {
			t.Errorf("Encode(%q) = %q, want %q", in, got, want)
		}
		if back, ok := decode(Encode(in)); !ok || back != in {
			t.Errorf("decode(Encode(%q)) = %q, %v", in, back, ok)
		}
	}
}

func TestBaseStringURI(t *testing.T) {
	for in, want := range map[string]string{
		"HTTP://EXAMPLE.COM:80/r%20v/X?id=123": "http://example.com/r%20v/X",
		"https://www.example.net:8080/?q=1":    "https://www.example.net:8080/",
		"https://Example.com:443":              "https://example.com/",
		"http://example.com:443/":              "http://example.com:443/",
		"https://example.com:80/":              "https://example.com:80/",
		"http://[::1]:80/a":                    "http://[::1]/a",
		"http://[::1]/a#frag":                  "http://[::1]/a",
		"http://example.com:/a":                "http://example.com/a",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := baseURI(u); got != want {
			t.Errorf("baseURI(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestSignPlaintext(t *testing.T) {
	sig, err := Sign(Plaintext, "ignored", "c s&", "t~s")
	if err != nil || sig != "c%20s%26&t~s" {
		t.Fatalf("Sign(PLAINTEXT) = %q, %v", sig, err)
	}
	if sig, _ := Sign(Plaintext, "", "kd94hf93k423kf44", ""); sig != "kd94hf93k423kf44&" {
		t.Errorf("Sign(PLAINTEXT) without token = %q", sig)
	}
	if !Verify(Plaintext, "anything", "c s&", "t~s", "c%20s%26&t~s") {
		t.Error("Verify(PLAINTEXT) rejected the key")
	}
	if Verify(Plaintext, "anything", "c s&", "t~s", "c%20s%26&t~S") {
		t.Error("Verify(PLAINTEXT) accepted a wrong key")
	}
}

func TestSignHMACSHA256(t *testing.T) {
	// Expected value computed independently with
	// printf %s "$BASE" | openssl dgst -sha256 -hmac "$KEY" -binary | base64
	const want = "Tp6gtfOx2bNZeJ2UUOeg9hvSzdsLa5QJoUwc/LeRFRA="
	sig, err := Sign(HMACSHA256, twitterBase, twitterConsumerSecret, twitterTokenSecret)
	if err != nil || sig != want {
		t.Fatalf("Sign(HMAC-SHA256) = %q, %v; want %q", sig, err, want)
	}
	if !Verify(HMACSHA256, twitterBase, twitterConsumerSecret, twitterTokenSecret, want) {
		t.Error("Verify rejected the correct signature")
	}
	if Verify(HMACSHA1, twitterBase, twitterConsumerSecret, twitterTokenSecret, want) {
		t.Error("a SHA-256 signature verified as HMAC-SHA1")
	}
}

func TestSignUnsupported(t *testing.T) {
	if _, err := Sign("RSA-SHA1", "b", "c", "t"); !errors.Is(err, ErrUnsupportedMethod) {
		t.Errorf("Sign(RSA-SHA1) err = %v", err)
	}
	if Verify("hmac-sha1", twitterBase, twitterConsumerSecret, twitterTokenSecret, twitterSig) {
		t.Error("Verify accepted an unknown (lowercase) method")
	}
}

func TestVerifyRejectsOneBitChange(t *testing.T) {
	raw := []byte(twitterSig)
	for i := range raw {
		for bit := 0; bit < 8; bit++ {
			mod := bytes.Clone(raw)
			mod[i] ^= 1 << bit
			if Verify(HMACSHA1, twitterBase, twitterConsumerSecret, twitterTokenSecret, string(mod)) {
				t.Fatalf("Verify accepted %q", mod)
			}
		}
	}
	// One bit of the base string, and of each secret.
	flip := func(s string) string { b := []byte(s); b[len(b)/2] ^= 1; return string(b) }
	if Verify(HMACSHA1, flip(twitterBase), twitterConsumerSecret, twitterTokenSecret, twitterSig) ||
		Verify(HMACSHA1, twitterBase, flip(twitterConsumerSecret), twitterTokenSecret, twitterSig) ||
		Verify(HMACSHA1, twitterBase, twitterConsumerSecret, flip(twitterTokenSecret), twitterSig) {
		t.Error("Verify accepted a one-bit change of its inputs")
	}
	if Verify(HMACSHA1, twitterBase, twitterConsumerSecret, twitterTokenSecret, "") {
		t.Error("Verify accepted an empty signature")
	}
}
