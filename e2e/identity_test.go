package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"testing"
)

// withHeader adds header to every request to the gateway.
type withHeader struct {
	header http.Header
	next   http.RoundTripper
}

func (w withHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == "localhost:9080" {
		r = r.Clone(r.Context())
		for k, v := range w.header {
			r.Header[k] = v
		}
	}
	return w.next.RoundTrip(r)
}

// An identity expression of several parts resolves only when every
// placeholder in it has a value: an anonymous caller, or one without the
// tenant header, is refused (401) by fitbit_auth and by the transport, and
// never shares a connection with anyone.
func TestIdentityExpressionWithUnresolvedPartIsRefused(t *testing.T) {
	const identity = "{http.request.header.X-Tenant}:{http.auth.user.id}"
	site := fmt.Sprintf(`@anonymous not header Authorization *
	handle @anonymous {
		fitbit_auth {
			identity %[1]s
		}
		fitbit_proxy {
			identity %[1]s
		}
	}
	handle {
		basic_auth {
			alice %[2]s
		}
		fitbit_auth {
			identity %[1]s
		}
		fitbit_proxy {
			identity %[1]s
		}
	}`, identity, hashes["alice"])
	e := newEnv(t, options{Site: site})

	acme := http.Header{"X-Tenant": {"acme"}}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: withHeader{acme, &basicAuth{user: "alice", pass: passwords["alice"]}}}
	if resp, body := e.do(browser, "GET", "/fitbit/authorize", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("connect acme:alice: %d %s", resp.StatusCode, body)
	}
	app := &http.Client{Transport: withHeader{acme, &basicAuth{user: "alice", pass: passwords["alice"]}}}
	if resp, body := e.do(app, "GET", "/1/user/-/profile.json", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("acme:alice's app: %d %s", resp.StatusCode, body)
	}
	apiCalls := e.sim.Stats().APIRequests

	for name, c := range map[string]*http.Client{
		"anonymous":            {Transport: http.DefaultTransport},
		"anonymous of acme":    {Transport: withHeader{acme, http.DefaultTransport}},
		"alice with no tenant": {Transport: &basicAuth{user: "alice", pass: passwords["alice"]}},
		"alice, empty tenant":  {Transport: withHeader{http.Header{"X-Tenant": {""}}, &basicAuth{user: "alice", pass: passwords["alice"]}}},
	} {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		for _, path := range []string{"/fitbit/authorize", "/fitbit/status", "/1/user/-/profile.json"} {
			resp, body := e.do(c, "GET", path, nil, nil)
			var m map[string]any
			_ = json.Unmarshal([]byte(body), &m)
			if resp.StatusCode != 401 {
				t.Errorf("%s: GET %s = %d %s, want 401", name, path, resp.StatusCode, body)
			}
			if path == "/1/user/-/profile.json" && errorType(m) != "unauthenticated" {
				t.Errorf("%s: GET %s = %s, want errorType unauthenticated", name, path, body)
			}
		}
	}
	if st := e.sim.Stats(); st.APIRequests != apiCalls || st.CodeExchanges != 1 {
		t.Fatalf("refused callers reached Fitbit: %+v", st)
	}
}
