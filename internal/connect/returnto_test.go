package connect

import (
	"strings"
	"testing"
)

func TestReturnTo(t *testing.T) {
	rt, err := NewReturnTo([]string{"/app/", "/exact", "https://app.example.com/done", "http://localhost:3000/"})
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{
		"/app/", "/app/x", "/app/x?y=1#frag", "/exact", "/exact/sub",
		"https://app.example.com/done", "https://app.example.com/done/more?q=1", "HTTPS://APP.EXAMPLE.COM/done",
		"http://localhost:3000/", "http://localhost:3000/cb",
	}
	refused := []string{
		"", "/", "/ap", "/appx", "/exactly", "app/x", "//evil.example.com/app/", "/\\evil.example.com", "\\\\evil",
		"https://evil.example.com/app/", "https://app.example.com/", "https://app.example.com/donex",
		"https://app.example.com.evil.com/done", "https://app.example.com@evil.com/done", "https://user:pw@app.example.com/done",
		"http://app.example.com/done", "javascript:alert(1)", "data:text/html,x", "/app/../admin", "/app/./x",
		"/app/%2e%2e/admin", "http://localhost:3001/", "/app/\r\nSet-Cookie:x", "/app/\x00", strings.Repeat("/app/", 1000),
	}
	for _, s := range allowed {
		if !rt.Allowed(s) {
			t.Errorf("Allowed(%q) = false, want true", s)
		}
	}
	for _, s := range refused {
		if rt.Allowed(s) {
			t.Errorf("Allowed(%q) = true, want false", s)
		}
	}
}

func TestReturnToRoot(t *testing.T) {
	rt, _ := NewReturnTo([]string{"/"})
	for _, s := range []string{"/", "/anything/at/all?x=1"} {
		if !rt.Allowed(s) {
			t.Errorf("root allow-list refuses %q", s)
		}
	}
	for _, s := range []string{"//evil.example.com", "https://evil.example.com/", "/\\evil"} {
		if rt.Allowed(s) {
			t.Errorf("root allow-list allows %q", s)
		}
	}
}

func TestNewReturnToRejectsBadPrefixes(t *testing.T) {
	for _, p := range []string{"app/", "ftp://x/", "https://", "https://x/?q=1", "https://u:p@x/", "//x/", "/a#b"} {
		if _, err := NewReturnTo([]string{p}); err == nil {
			t.Errorf("NewReturnTo(%q) accepted", p)
		}
	}
}

func FuzzReturnTo(f *testing.F) {
	rt, _ := NewReturnTo([]string{"/app/", "https://app.example.com/done"})
	for _, s := range []string{"/app/x", "//evil", "https://app.example.com/done", "/app/../x", "https://app.example.com.evil/done"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !rt.Allowed(s) {
			return
		}
		// Whatever is allowed stays on this origin or on app.example.com.
		if strings.HasPrefix(s, "/") {
			if strings.HasPrefix(s, "//") || strings.Contains(s, "\\") {
				t.Fatalf("allowed %q leaves the origin", s)
			}
			return
		}
		if !strings.HasPrefix(strings.ToLower(s), "https://app.example.com/done") {
			t.Fatalf("allowed %q", s)
		}
	})
}
