package fitbitsim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestGone(t *testing.T) {
	s, err := Start(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr := s.MintTokens("22B7NF")
	s.SetGone(true)
	get, _ := http.NewRequest("GET", s.APIBase()+"/1/user/-/profile.json", nil)
	get.Header.Set("Authorization", "Bearer "+tr.AccessToken)
	for _, req := range []*http.Request{
		get,
		mustReq(t, "POST", s.TokenURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}.Encode()),
		mustReq(t, "GET", s.AuthorizeURL()+"?client_id=23ABCD", ""),
	} {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusGone {
			t.Errorf("%s %s: %d, want 410", req.Method, req.URL.Path, resp.StatusCode)
		}
	}
	s.SetGone(false)
	resp, err := http.DefaultClient.Do(get.Clone(get.Context()))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after SetGone(false): %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
}

func mustReq(t *testing.T, method, u, body string) *http.Request {
	r, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return r
}
