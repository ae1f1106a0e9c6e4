package googlesim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
)

// A complete offline authorization-code flow with PKCE against the
// simulator, then one data request.
func Example() {
	sim, err := googlesim.Start(googlesim.Config{RedirectURIs: []string{"https://app.example/cb"}})
	if err != nil {
		panic(err)
	}
	defer sim.Close()

	verifier := "01234567890123456789012345678901234567890123456789"
	q := url.Values{
		"client_id": {sim.ClientID()}, "response_type": {"code"}, "redirect_uri": {"https://app.example/cb"},
		"scope":          {googlesim.ScopeURL(googlesim.AreaActivity, false)},
		"state":          {"xyz"},
		"code_challenge": {googlesim.S256Challenge(verifier)}, "code_challenge_method": {"S256"},
		"access_type": {"offline"}, "prompt": {"consent"},
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(sim.AuthorizeURL() + "?" + q.Encode())
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	fmt.Println("state:", loc.Query().Get("state"), "fragment:", loc.Fragment == "")

	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {"https://app.example/cb"}, "code_verifier": {verifier},
		"client_id": {sim.ClientID()}, "client_secret": {sim.ClientSecret()}}
	resp, err = http.Post(sim.TokenURL(), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		panic(err)
	}
	var tok googlesim.TokenResponse
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	fmt.Println(tok.TokenType, tok.ExpiresIn, strings.HasPrefix(tok.AccessToken, "ya29."), strings.HasPrefix(tok.RefreshToken, "1//"))

	body := `{"range":{"start":{"date":{"year":2026,"month":11,"day":19}},"end":{"date":{"year":2026,"month":11,"day":20}}},"windowSizeDays":1}`
	req, _ := http.NewRequest("POST", sim.APIBase()+"/v4/users/me/dataTypes/steps/dataPoints:dailyRollUp", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	var roll struct {
		RollupDataPoints []struct {
			CivilStartTime struct {
				Date struct{ Year, Month, Day int }
			}
			Steps struct{ CountSum string }
		}
	}
	_ = json.NewDecoder(resp.Body).Decode(&roll)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, len(roll.RollupDataPoints), roll.RollupDataPoints[0].CivilStartTime.Date, roll.RollupDataPoints[0].Steps.CountSum != "")
	// Output:
	// state: xyz fragment: true
	// Bearer 3599 true true
	// 200 1 {2026 11 19} true
}
