package fitbitsim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
)

// A complete authorization-code flow with PKCE against the simulator, then
// one data request.
func Example() {
	sim, err := fitbitsim.Start(fitbitsim.Config{RedirectURIs: []string{"https://app.example/cb"}})
	if err != nil {
		panic(err)
	}
	defer sim.Close()

	verifier := "01234567890123456789012345678901234567890123456789"
	q := url.Values{
		"client_id": {sim.ClientID()}, "response_type": {"code"}, "scope": {"profile activity"},
		"redirect_uri": {"https://app.example/cb"}, "state": {"xyz"},
		"code_challenge": {fitbitsim.S256Challenge(verifier)}, "code_challenge_method": {"S256"},
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(sim.AuthorizeURL() + "?" + q.Encode())
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	fmt.Println("redirect fragment:", loc.Fragment)

	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {"https://app.example/cb"}, "code_verifier": {verifier}}
	req, _ := http.NewRequest("POST", sim.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sim.ClientID(), sim.ClientSecret())
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	var tok fitbitsim.TokenResponse
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	fmt.Println(tok.TokenType, tok.ExpiresIn, tok.Scope, tok.UserID)

	req, _ = http.NewRequest("GET", sim.APIBase()+"/1/user/-/profile.json", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	var p struct {
		User struct{ DisplayName string } `json:"user"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, p.User.DisplayName, resp.Header.Get("Fitbit-Rate-Limit-Remaining"))
	// Output:
	// redirect fragment: _=_
	// Bearer 28800 activity profile 22B7NF
	// 200 Sim user 22B7NF 149
}
