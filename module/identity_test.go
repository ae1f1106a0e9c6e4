package module

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// request is a request as Caddy's HTTP server hands it to a handler: with
// the http.* placeholders, and {http.auth.user.id} set when user is not "".
func request(user string, header http.Header) *http.Request {
	r := httptest.NewRequest("GET", "http://gateway.example/1/user/-/profile.json", nil)
	for k, v := range header {
		r.Header[k] = v
	}
	repl := caddyhttp.NewTestReplacer(r)
	if user != "" {
		repl.Set("http.auth.user.id", user)
	}
	return r
}

func TestIdentityFunc(t *testing.T) {
	tenant := http.Header{"X-Tenant": {"acme"}}
	emptyTenant := http.Header{"X-Tenant": {""}}
	for _, c := range []struct {
		name, expr, user string
		header           http.Header
		want             string
	}{
		{"default, authenticated", "", "alice", nil, "alice"},
		{"default, anonymous", "", "", nil, ""},
		{"single placeholder", "{http.auth.user.id}", "alice", nil, "alice"},
		{"single placeholder, anonymous", "{http.auth.user.id}", "", nil, ""},
		{"single header placeholder", "{http.request.header.X-Tenant}", "", tenant, "acme"},
		{"single header placeholder, header missing", "{http.request.header.X-Tenant}", "", nil, ""},
		{"literal prefix", "tenant-a:{http.auth.user.id}", "alice", nil, "tenant-a:alice"},
		// The defect: ReplaceKnown left the placeholder as text, so every
		// anonymous caller shared "tenant-a:{http.auth.user.id}".
		{"literal prefix, anonymous", "tenant-a:{http.auth.user.id}", "", nil, ""},
		{"several placeholders", "{http.request.header.X-Tenant}:{http.auth.user.id}", "alice", tenant, "acme:alice"},
		// … and a missing header made "tenant:" identities.
		{"several, header missing", "{http.request.header.X-Tenant}:{http.auth.user.id}", "alice", nil, ""},
		{"several, header empty", "{http.request.header.X-Tenant}:{http.auth.user.id}", "alice", emptyTenant, ""},
		{"several, anonymous", "{http.request.header.X-Tenant}:{http.auth.user.id}", "", tenant, ""},
		{"unknown placeholder", "tenant:{no.such.placeholder}", "alice", nil, ""},
		{"unknown single placeholder", "{no.such.placeholder}", "alice", nil, ""},
		{"literal text", "one-user", "", nil, "one-user"},
		{"escaped braces are text", `\{tenant\}:{http.auth.user.id}`, "alice", nil, "{tenant}:alice"},
		{"escaped braces, anonymous", `\{tenant\}:{http.auth.user.id}`, "", nil, ""},
		{"only escaped braces", `\{http.auth.user.id\}`, "", nil, "{http.auth.user.id}"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := identityFunc(c.expr)(request(c.user, c.header)); got != c.want {
				t.Fatalf("identity %q with user %q, header %v = %q, want %q", c.expr, c.user, c.header, got, c.want)
			}
		})
	}
}

func TestIdentityFuncWithoutReplacer(t *testing.T) {
	r := httptest.NewRequest("GET", "http://gateway.example/", nil)
	for _, expr := range []string{"", "{http.auth.user.id}", "tenant:{http.auth.user.id}"} {
		if got := identityFunc(expr)(r); got != "" {
			t.Fatalf("identity %q outside Caddy = %q, want \"\"", expr, got)
		}
	}
}

// The default expression is on the hot path of every proxied request.
func TestIdentityFuncSinglePlaceholderAllocatesNothing(t *testing.T) {
	f := identityFunc(defaultIdentity)
	r := request("alice", nil)
	if n := testing.AllocsPerRun(100, func() { _ = f(r) }); n != 0 {
		t.Fatalf("single-placeholder identity allocates %v times per request", n)
	}
}

func TestConstantIdentity(t *testing.T) {
	for expr, want := range map[string]bool{
		"":                           false,
		"{http.auth.user.id}":        false,
		"tenant:{http.auth.user.id}": false,
		"{env.TENANT}":               false,
		"one-user":                   true,
		`\{not a placeholder\}`:      true,
	} {
		if got := constantIdentity(expr); got != want {
			t.Errorf("constantIdentity(%q) = %v, want %v", expr, got, want)
		}
	}
}
