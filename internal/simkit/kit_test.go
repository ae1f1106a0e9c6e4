package simkit

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLogBounded(t *testing.T) {
	var unbounded Log[int]
	if unbounded.All() != nil {
		t.Fatal("empty log: All() != nil")
	}
	l := Log[int]{Max: 3}
	l.Add(1, 2)
	l.Add(3, 4)
	l.Add(5)
	if got := l.All(); !slices.Equal(got, []int{3, 4, 5}) {
		t.Fatalf("All() = %v", got)
	}
	if got := l.AppendTo([]int{}); len(got) != 3 {
		t.Fatalf("AppendTo = %v", got)
	}
	l.Reset()
	if got := l.AppendTo([]int{}); got == nil || len(got) != 0 {
		t.Fatalf("after Reset: %#v", got)
	}
}

func TestWindow(t *testing.T) {
	w := Window[string]{Size: time.Hour}
	t0 := time.Date(2026, 11, 20, 10, 15, 30, 0, time.UTC)
	if n := w.Count(t0, "u"); n != 0 {
		t.Fatalf("fresh count %d", n)
	}
	w.Set("u", 7)
	if n := w.Count(t0.Add(44*time.Minute), "u"); n != 7 {
		t.Fatalf("same hour: %d", n)
	}
	if s := w.SecondsLeft(t0); s != 44*60+30 {
		t.Fatalf("SecondsLeft = %d", s)
	}
	if s := w.SecondsLeft(t0.Add(100 * time.Millisecond)); s != 44*60+30 {
		t.Fatalf("SecondsLeft rounds up: %d", s)
	}
	if n := w.Count(t0.Add(45*time.Minute), "u"); n != 0 {
		t.Fatalf("next hour: %d", n)
	}
}

func TestAppendQuery(t *testing.T) {
	p := [][2]string{{"code", "4/0A b"}, {"state", "x&y"}}
	for base, want := range map[string]string{
		"https://a.example/cb":          "https://a.example/cb?code=4%2F0A+b&state=x%26y",
		"https://a.example/cb?k=v#frag": "https://a.example/cb?k=v&code=4%2F0A+b&state=x%26y",
		"https://a.example/cb?":         "https://a.example/cb?code=4%2F0A+b&state=x%26y",
		"https://a.example/cb?k=v&":     "https://a.example/cb?k=v&code=4%2F0A+b&state=x%26y",
	} {
		if got := AppendQuery(base, p, url.QueryEscape); got != want {
			t.Errorf("AppendQuery(%q) = %q, want %q", base, got, want)
		}
	}
	if !AbsoluteHTTPURL("http://127.0.0.1:1/cb") || AbsoluteHTTPURL("https://a.example/cb#x") ||
		AbsoluteHTTPURL("https://u@a.example/") || AbsoluteHTTPURL("/cb") || AbsoluteHTTPURL("ftp://a.example/") {
		t.Fatal("AbsoluteHTTPURL rules broken")
	}
}

func TestBearerToken(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if _, ok := BearerToken(r); ok {
		t.Fatal("no header: ok")
	}
	r.Header.Set("Authorization", "BEARER  abc ")
	if tok, ok := BearerToken(r); !ok || tok != "abc" {
		t.Fatalf("BearerToken = %q %v", tok, ok)
	}
	r.Header.Set("Authorization", "Basic abc")
	if _, ok := BearerToken(r); ok {
		t.Fatal("Basic: ok")
	}
}

// The request is in the log, with its status, before the client can read
// the response; a handler that writes nothing is recorded as 200.
func TestRecord(t *testing.T) {
	var log Log[RecordedRequest]
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := Record(w, r, 4, &log)
		defer rc.Finish()
		rc.Req.UserID = "u1"
		switch {
		case rc.TooLarge:
			rc.W.WriteHeader(http.StatusRequestEntityTooLarge)
			rc.W.WriteHeader(http.StatusTeapot) // ignored by the recorder
		case r.URL.Path == "/silent":
		default:
			if n := len(log.All()); n != 0 {
				t.Errorf("recorded before the answer: %d", n)
			}
			_, _ = io.WriteString(rc.W, "ok")
			if n := len(log.All()); n != 1 {
				t.Errorf("not recorded at the answer: %d", n)
			}
		}
	})
	srv, err := Listen("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, c := range []struct{ path, body string }{{"/a?q=1", "abc"}, {"/big", "abcdef"}, {"/silent", ""}} {
		resp, err := http.Post(srv.URL()+c.path, "text/plain", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	got := log.All()
	if len(got) != 3 {
		t.Fatalf("recorded %d", len(got))
	}
	want := []string{"POST /a q=1 abc u1 200", "POST /big  abcd u1 413", "POST /silent   u1 200"}
	for i, rr := range got {
		if s := fmt.Sprintf("%s %s %s %s %s %d", rr.Method, rr.Path, rr.RawQuery, rr.Body, rr.UserID, rr.Status); s != want[i] {
			t.Errorf("request %d = %q, want %q", i, s, want[i])
		}
	}
}

func TestServerAndRecover(t *testing.T) {
	var nilSrv *HTTPServer
	if nilSrv.URL() != "" || nilSrv.Close() != nil {
		t.Fatal("nil HTTPServer")
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer RecoverPanic(w, func(w http.ResponseWriter, v any) {
			WritePlainText(w, http.StatusInternalServerError, fmt.Sprint("recovered: ", v))
		})
		if r.URL.Path == "/abort" {
			panic(http.ErrAbortHandler)
		}
		panic("boom")
	})
	srv, err := Listen("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || string(b) != "recovered: boom" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
	if _, err := http.Get(srv.URL() + "/abort"); err == nil {
		t.Fatal("aborted handler answered")
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(srv.URL() + "/"); err == nil {
		t.Fatal("closed server answered")
	}
}

func TestRandom(t *testing.T) {
	if h := RandomHex(16); len(h) != 32 || h == RandomHex(16) {
		t.Fatalf("RandomHex = %q", h)
	}
	if b := RandomB64(48); len(b) != 64 || strings.ContainsAny(b, "+/=") {
		t.Fatalf("RandomB64 = %q", b)
	}
	if Rand("u", "x").Uint64() != Rand("u", "x").Uint64() || Rand("u", "x").Uint64() == Rand("v", "x").Uint64() {
		t.Fatal("Rand is not deterministic per parts")
	}
	if !Equal("a", "a") || Equal("a", "b") || SecretKey("a") == SecretKey("b") {
		t.Fatal("Equal/SecretKey")
	}
}

func TestScopes(t *testing.T) {
	valid := func(s string) bool { return s != "bad" }
	if got, u := ParseScopes(" b a  b ", valid); !slices.Equal(got, []string{"a", "b"}) || u != "" {
		t.Fatalf("ParseScopes = %v %q", got, u)
	}
	if got, u := ParseScopes("a bad", valid); got != nil || u != "bad" {
		t.Fatalf("ParseScopes = %v %q", got, u)
	}
	if got := IntersectScopes([]string{"a", "b"}, []string{"c", "b", "a", "b"}); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("IntersectScopes = %v", got)
	}
	if got := UnionScopes([]string{"b", "a"}, []string{"c", "a"}); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("UnionScopes = %v", got)
	}
}

func TestConsent(t *testing.T) {
	var h ConsentHook
	h.DefaultUser = "dflt"
	h.Set(nil)
	req := []string{"a", "b"}
	c := h.Ask(nil, req)
	if g, ok := c.Grants(req); !ok || !slices.Equal(g, req) || c.User("x") != "dflt" {
		t.Fatalf("default consent = %+v", c)
	}
	h.Set(func(_ *http.Request, requested []string) Consent {
		requested[0] = "mutated" // must not reach the caller's slice
		return Consent{Granted: []string{"b", "c"}}
	})
	c = h.Ask(nil, req)
	if g, ok := c.Grants(req); !ok || !slices.Equal(g, []string{"b"}) || c.User("x") != "x" || req[0] != "a" {
		t.Fatalf("partial consent = %+v %v", c, req)
	}
	if _, ok := (Consent{Granted: []string{"c"}}).Grants(req); ok {
		t.Fatal("empty grant is not a denial")
	}
	if _, ok := (Consent{Deny: true}).Grants(req); ok {
		t.Fatal("Deny is not a denial")
	}
}

func TestAuthorizeChecks(t *testing.T) {
	q := url.Values{"a": {"1"}, "b": {"1", "2"}}
	if p, ok := Repeated(q, "a", "b"); !ok || p != "b" {
		t.Fatalf("Repeated = %q, %v", p, ok)
	}
	if _, ok := Repeated(q, "a", "c"); ok {
		t.Fatal("Repeated found a single parameter")
	}
	reg := []string{"https://app.example/cb"}
	for _, c := range []struct {
		registered []string
		uri        string
		want       RedirectCheck
	}{
		{reg, "https://app.example/cb", RedirectOK},
		{reg, "https://app.example/cb2", RedirectUnregistered},
		{nil, "http://127.0.0.1:9/cb", RedirectOK},
		{nil, "/cb", RedirectInvalid},
		{nil, "https://app.example/cb#x", RedirectInvalid},
	} {
		if got := CheckRedirect(c.registered, c.uri); got != c.want {
			t.Errorf("CheckRedirect(%v, %q) = %v, want %v", c.registered, c.uri, got, c.want)
		}
	}
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	codes := map[[32]byte]time.Time{
		{1}: now.Add(-CodeGrace - time.Second), // forgotten
		{2}: now.Add(-CodeGrace),               // still told "expired"
		{3}: now.Add(time.Minute),
	}
	PruneCodes(codes, now, func(exp time.Time) time.Time { return exp })
	if _, ok := codes[[32]byte{1}]; ok || len(codes) != 2 {
		t.Fatalf("PruneCodes left %d codes", len(codes))
	}
}

func TestAskBrowsers(t *testing.T) {
	f := AskBrowsers(func(*http.Request, []string) Consent { return Consent{UserID: "U1"} })
	r, _ := http.NewRequest("GET", "/authorize", nil)
	if c := f(r, nil); c.Page || c.UserID != "U1" {
		t.Errorf("a program was shown the page: %+v", c)
	}
	r.Header.Set("Accept", "text/html,*/*;q=0.8")
	if c := f(r, nil); !c.Page || c.UserID != "U1" {
		t.Errorf("a browser was answered without the page: %+v", c)
	}
}
