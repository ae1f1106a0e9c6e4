package module

import (
	"strings"
	"testing"
)

func TestOAuth1ConsumersValidation(t *testing.T) {
	env := map[string]string{"{env.KEY}": "legacy-app", "{env.SECRET}": "0123456789abcdef", "{env.UNSET}": ""}
	expand := func(s string) string {
		if v, ok := env[s]; ok {
			return v
		}
		return s
	}
	a := &App{OAuth1Consumers: []OAuth1Consumer{{Key: "{env.KEY}", Secret: "{env.SECRET}", Callback: "https://app.example/cb"}}}
	got, err := a.oauth1Consumers(expand)
	if err != nil || got["legacy-app"].Secret != "0123456789abcdef" || got["legacy-app"].Callback != "https://app.example/cb" {
		t.Fatalf("got %v, %v", got, err)
	}
	bad := &App{OAuth1Consumers: []OAuth1Consumer{
		{Key: "{env.UNSET}", Secret: "{env.SECRET}"},
		{Key: "short", Secret: "tiny"},
		{Key: "cb", Secret: "0123456789abcdef", Callback: "/relative"},
		{Key: "dup", Secret: "0123456789abcdef"},
		{Key: "dup", Secret: "0123456789abcdef"},
	}}
	_, err = bad.oauth1Consumers(expand)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"oauth1_consumers[0]: key is empty", "(short): secret must be at least 16", "(cb): callback must be an absolute", `key "dup" is registered twice`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "0123456789abcdef") || strings.Contains(err.Error(), "tiny") {
		t.Errorf("error shows a secret: %q", err)
	}
}
