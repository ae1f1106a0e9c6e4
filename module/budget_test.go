package module

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
)

func TestBudgetCaddyfileErrors(t *testing.T) {
	for input, want := range map[string]string{
		`fitbit { budget on }`:                                         "budget takes off, or a block",
		`fitbit { budget { per_user 0 } }`:                             "per_user takes one whole number ≥ 1",
		`fitbit { budget { per_hour 10 } }`:                            `unknown option "per_hour"`,
		`fitbit { budget { instances 2 3 } }`:                          "instances takes one whole number",
		`fitbit { provider g google_health { budget { project x } } }`: "project takes one whole number",
	} {
		err := (&App{}).UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", input, err, want)
		}
	}
}

func TestBudgetValidate(t *testing.T) {
	if err := (&Budget{Instances: 3}).validate("fitbit", true); err == nil || !strings.Contains(err.Error(), "instances is for the storage store") {
		t.Errorf("instances with redis: %v", err)
	}
	if err := (&Budget{PerUser: -1}).validate("fitbit", false); err == nil {
		t.Error("a negative per_user passed")
	}
	if err := (&Budget{PerUser: 100, Instances: 3}).validate("fitbit", false); err != nil {
		t.Error(err)
	}
}

// Each instance of the file store keeps its share: the provider's limit,
// or the operator's, divided by instances.
func TestBudgetShare(t *testing.T) {
	a := &App{ProviderConfig: ProviderConfig{ClientID: "c", Budget: &Budget{PerUser: 100, Instances: 3}},
		Providers: map[string]*Provider{"google_health": {ProviderConfig: ProviderConfig{Budget: &Budget{Project: 60000, Instances: 3}}}},
		state:     &state{}}
	fitbit := a.budget(provider.Registration{Name: "fitbit", Preset: &provider.Fitbit}, nil)
	google := a.budget(provider.Registration{Name: "google_health", Preset: &provider.GoogleHealth}, nil)
	if fitbit.PerUser.Limit != 33 || fitbit.Cap != 100 || !fitbit.Headers || google.PerUser.Limit != 100 || google.Project.Limit != 20000 || google.Headers {
		t.Fatalf("fitbit %+v, google %+v", fitbit, google)
	}
	a.Budget = &Budget{Off: true}
	if a.budget(provider.Registration{Name: "fitbit", Preset: &provider.Fitbit}, nil) != nil {
		t.Fatal("budget off")
	}
}
