package oauth1

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestParseAuthorization(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
	}{
		{`OAuth`, map[string]string{}},
		{`  oauth   `, map[string]string{}},
		{`OAUTH realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03"`,
			map[string]string{"realm": "Photos", "oauth_consumer_key": "dpf43f3p2l4k3l03"}},
		{"OAuth\toauth_signature=\"tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D\" ,oauth_a = \"x+y%20z\",,",
			map[string]string{"oauth_signature": "tR3+Ty81lMeYAr/Fid0kMTYa/WM=", "oauth_a": "x+y z"}},
		{`OAuth Realm="a \"b\" %20", oauth_x=""`, map[string]string{"realm": `a "b" %20`, "oauth_x": ""}},
		{`OAuth oauth_%41="%C3%A9"`, map[string]string{"oauth_A": "é"}},
	} {
		got, err := ParseAuthorization(tc.in)
		if err != nil {
			t.Errorf("ParseAuthorization(%q): %v", tc.in, err)
			continue
		}
		if !maps.Equal(got, tc.want) {
			t.Errorf("ParseAuthorization(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseAuthorizationErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{``, ErrNotOAuth},
		{`Bearer abc`, ErrNotOAuth},
		{`OAuthoauth_a="b"`, ErrNotOAuth},
		{`OAuth oauth_a="1", oauth_a="2"`, ErrDuplicateParam},
		{`OAuth realm="1", REALM="2"`, ErrDuplicateParam},
		{`OAuth oauth_a="1", oauth_%61="2"`, ErrDuplicateParam},
		{`OAuth oauth_a=b`, ErrMalformed},
		{`OAuth oauth_a`, ErrMalformed},
		{`OAuth oauth_a="b`, ErrMalformed},
		{`OAuth oauth_a="b\`, ErrMalformed},
		{`OAuth oauth_a="b" oauth_c="d"`, ErrMalformed},
		{`OAuth oauth_a="%zz"`, ErrMalformed},
		{`OAuth oauth_a="%2"`, ErrMalformed},
		{`OAuth %zz="a"`, ErrMalformed},
		{`OAuth %="a"`, ErrMalformed},
		{`OAuth ="a"`, ErrMalformed},
		{"OAuth oauth_a=\"b\nc\"", ErrMalformed},
		{`OAuth "a"`, ErrMalformed},
		{`OAuth oauth_a="` + strings.Repeat("x", MaxAuthorizationSize) + `"`, ErrTooLarge},
	} {
		got, err := ParseAuthorization(tc.in)
		if !errors.Is(err, tc.want) {
			t.Errorf("ParseAuthorization(%q) = %q, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		`OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_signature="bYT5CMsGcbgUdFHObYMEfcx6bsw%3D"`,
		`oauth a="%C3%A9",, b = "\"" `,
		`OAuth oauth_a="1", oauth_a="2"`,
		`Bearer x`,
		`OAuth x="%`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got, err := ParseAuthorization(header)
		if err != nil {
			if got != nil {
				t.Fatalf("non-nil map with error %v", err)
			}
			return
		}
		// Round trip: re-encoding the decoded parameters parses back to them.
		var b strings.Builder
		b.WriteString("OAuth ")
		for k, v := range got {
			if k == "realm" {
				v = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v)
			} else {
				k, v = Encode(k), Encode(v)
			}
			b.WriteString(k + `="` + v + `", `)
		}
		if b.Len() > MaxAuthorizationSize {
			return
		}
		again, err := ParseAuthorization(b.String())
		if err != nil || !maps.Equal(got, again) {
			t.Fatalf("round trip of %q via %q: %q, %v", got, b.String(), again, err)
		}
	})
}
