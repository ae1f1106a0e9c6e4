package simkit

import "time"

// FillDefaults fills, where zero, the Config fields that every simulator
// has: the clock (time.Now), the listen address (a free loopback port) and
// the consent function (defaultUser grants everything requested). It copies
// the registered redirect URIs, so that the caller's slice is not shared.
func FillDefaults(now *func() time.Time, addr *string, redirectURIs *[]string, consent *ConsentFunc, defaultUser string) {
	if *now == nil {
		*now = time.Now
	}
	if *addr == "" {
		*addr = "127.0.0.1:0"
	}
	*redirectURIs = append([]string(nil), *redirectURIs...)
	if *consent == nil {
		*consent = GrantAll(defaultUser)
	}
}
