package oauth1

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestCollect(t *testing.T) {
	const body = "b=2+x&oauth_nonce=n1&b=1&oauth_signature=ignored-in-params"
	r := httptest.NewRequest("POST", "http://example.com/p?a=1&a=%20&oauth_token=tok", strings.NewReader(body))
	r.Header.Set("Content-Type", "Application/X-WWW-Form-Urlencoded")
	r.Header.Set("Authorization", `OAuth realm="r", oauth_consumer_key="ck", x="y"`)
	params, protocol, err := Collect(r, 1024)
	if err != nil {
		t.Fatal(err)
	}
	wantParams := url.Values{
		"a": {"1", " "}, "b": {"2 x", "1"}, "x": {"y"},
		"oauth_consumer_key": {"ck"}, "oauth_token": {"tok"}, "oauth_nonce": {"n1"},
	}
	if !reflect.DeepEqual(params, wantParams) {
		t.Errorf("params = %v, want %v", params, wantParams)
	}
	wantProtocol := map[string]string{"oauth_consumer_key": "ck", "oauth_token": "tok",
		"oauth_nonce": "n1", "oauth_signature": "ignored-in-params"}
	if !reflect.DeepEqual(protocol, wantProtocol) {
		t.Errorf("protocol = %v, want %v", protocol, wantProtocol)
	}
	got, err := io.ReadAll(r.Body)
	if err != nil || string(got) != body {
		t.Errorf("body after Collect = %q, %v; want %q", got, err, body)
	}
	if err := r.Body.Close(); err != nil {
		t.Error(err)
	}
}

func TestCollectNonFormBody(t *testing.T) {
	const body = `{"oauth_nonce":"x","a":1}`
	for _, ct := range []string{"application/json", ""} {
		r := httptest.NewRequest("POST", "http://example.com/?q=1", strings.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		params, protocol, err := Collect(r, 4)
		if err != nil {
			t.Fatalf("%q: %v", ct, err)
		}
		if !reflect.DeepEqual(params, url.Values{"q": {"1"}}) || len(protocol) != 0 {
			t.Errorf("%q: params %v protocol %v", ct, params, protocol)
		}
		if got, _ := io.ReadAll(r.Body); string(got) != body {
			t.Errorf("%q: body = %q", ct, got)
		}
	}
}

func TestCollectDuplicateProtocolParam(t *testing.T) {
	for _, tc := range []struct{ target, auth, body string }{
		{"/?oauth_nonce=b", `OAuth oauth_nonce="a"`, ""},
		{"/?oauth_signature=b", `OAuth oauth_signature="a"`, ""},
		{"/?oauth_nonce=a&oauth_nonce=a", "", ""},
		{"/?oauth_nonce=a", "", "oauth_nonce=a"},
		{"/", `OAuth oauth_nonce="a"`, "oauth_nonce=b"},
		{"/", "", "oauth_token=a&oauth_token=b"},
	} {
		r := httptest.NewRequest("POST", tc.target, strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		if _, _, err := Collect(r, 0); !errors.Is(err, ErrDuplicateParam) {
			t.Errorf("%+v: err = %v, want ErrDuplicateParam", tc, err)
		}
		if got, _ := io.ReadAll(r.Body); string(got) != tc.body {
			t.Errorf("%+v: body = %q", tc, got)
		}
	}
	// Two OAuth Authorization headers; a non-OAuth one is ignored.
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Add("Authorization", `OAuth oauth_nonce="a"`)
	r.Header.Add("Authorization", `OAuth oauth_token="b"`)
	if _, _, err := Collect(r, 0); !errors.Is(err, ErrDuplicateParam) {
		t.Errorf("two OAuth headers: err = %v", err)
	}
	r.Header.Set("Authorization", "Bearer abc")
	if p, proto, err := Collect(r, 0); err != nil || len(p) != 0 || len(proto) != 0 {
		t.Errorf("Bearer: %v %v %v", p, proto, err)
	}
}

func TestCollectMalformed(t *testing.T) {
	for _, tc := range []struct{ target, auth, body string }{
		{"/?a=%zz", "", ""},
		{"/?a=1;b=2", "", ""},
		{"/", `OAuth oauth_nonce=a`, ""},
		{"/", "", "a=%"},
	} {
		r := httptest.NewRequest("POST", tc.target, strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		if _, _, err := Collect(r, 0); !errors.Is(err, ErrMalformed) {
			t.Errorf("%+v: err = %v, want ErrMalformed", tc, err)
		}
		if got, _ := io.ReadAll(r.Body); string(got) != tc.body {
			t.Errorf("%+v: body = %q", tc, got)
		}
	}
}

// onlyReader hides the concrete type so that ContentLength stays unknown.
type onlyReader struct{ io.Reader }

func TestCollectOversizeBody(t *testing.T) {
	body := strings.Repeat("a=b&", 100) // 400 bytes
	// Known length: rejected up front.
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, _, err := Collect(r, 399); !errors.Is(err, ErrTooLarge) {
		t.Errorf("known length: err = %v", err)
	}
	if got, _ := io.ReadAll(r.Body); string(got) != body {
		t.Error("known length: body not intact")
	}
	// Unknown length (chunked): rejected after reading maxBody+1 bytes, body restored.
	r = httptest.NewRequest("POST", "/", onlyReader{strings.NewReader(body)})
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r.ContentLength != -1 {
		t.Fatalf("ContentLength = %d", r.ContentLength)
	}
	if _, _, err := Collect(r, 399); !errors.Is(err, ErrTooLarge) {
		t.Errorf("unknown length: err = %v", err)
	}
	if got, _ := io.ReadAll(r.Body); string(got) != body {
		t.Error("unknown length: body not intact")
	}
	// Exactly at the limit is fine.
	r = httptest.NewRequest("POST", "/", onlyReader{strings.NewReader(body)})
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p, _, err := Collect(r, 400); err != nil || len(p["a"]) != 100 {
		t.Errorf("at limit: %v", err)
	}
}

// closeRecorder records whether the original body was closed.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestCollectRestoredBodyClosesOriginalAndGetBody(t *testing.T) {
	orig := &closeRecorder{Reader: strings.NewReader("a=1")}
	r, _ := http.NewRequest("POST", "http://example.com/", strings.NewReader("a=1"))
	r.Body = orig
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, _, err := Collect(r, 0); err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if !orig.closed {
		t.Error("original body not closed")
	}
	rc, err := r.GetBody()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(rc); string(got) != "a=1" {
		t.Errorf("GetBody = %q", got)
	}
}

func FuzzCollect(f *testing.F) {
	f.Add(`OAuth realm="x", oauth_nonce="a"`, "b5=%3D%253D&a3=a&c%40=&a2=r%20b", []byte("c2&a3=2+q"), "application/x-www-form-urlencoded", uint16(64))
	f.Add("", "oauth_nonce=a", []byte("oauth_nonce=b"), "application/x-www-form-urlencoded; charset=utf-8", uint16(0))
	f.Add("Bearer t", "", []byte(`{"a":1}`), "application/json", uint16(3))
	f.Fuzz(func(t *testing.T, auth, rawQuery string, body []byte, contentType string, maxBody uint16) {
		r := &http.Request{
			Method:        "POST",
			URL:           &url.URL{Path: "/", RawQuery: rawQuery},
			Header:        http.Header{},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: -1,
		}
		if len(body)%2 == 0 {
			r.ContentLength = int64(len(body))
		}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		r.Header.Set("Content-Type", contentType)
		params, protocol, err := Collect(r, int64(maxBody))
		got, rerr := io.ReadAll(r.Body)
		if rerr != nil || !bytes.Equal(got, body) {
			t.Fatalf("body not restored: %q, %v; want %q", got, rerr, body)
		}
		if err != nil {
			return
		}
		if _, ok := params["oauth_signature"]; ok {
			t.Fatal("oauth_signature in params")
		}
		for k := range protocol {
			if !strings.HasPrefix(k, "oauth_") {
				t.Fatalf("protocol has %q", k)
			}
		}
		_ = BaseString(r.Method, &url.URL{Scheme: "http", Host: "example.com", Path: "/"}, params)
	})
}
