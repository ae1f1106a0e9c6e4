package legacy

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// FuzzDropOAuth: whatever the form string, no oauth_* pair survives and
// every other pair survives byte for byte, in order.
func FuzzDropOAuth(f *testing.F) {
	for _, s := range []string{"", "a=1", "oauth_token=x&a=1", "a=1&oauth%5Fnonce=2&b", "oauth_=&&=&%zz=1", "+oauth_x=1&c=%20"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, changed := dropOAuth(s)
		var want []string
		for _, pair := range strings.Split(s, "&") {
			name, _, _ := strings.Cut(pair, "=")
			if n, err := url.QueryUnescape(name); err == nil && strings.HasPrefix(n, "oauth_") {
				continue
			}
			want = append(want, pair)
		}
		if changed != (len(want) != len(strings.Split(s, "&"))) {
			t.Fatalf("changed=%v for %q → %q", changed, s, out)
		}
		if changed && out != strings.Join(want, "&") || !changed && out != s {
			t.Fatalf("%q → %q", s, out)
		}
	})
}

// memEntries is a map-backed Entries for the fuzz target, which must not
// touch the disk per input.
type memEntries struct{ m map[string][]byte }

func (e *memEntries) PutEntry(_ context.Context, kind, id string, v []byte, _ time.Time) error {
	e.m[kind+id] = v
	return nil
}
func (e *memEntries) AddEntry(_ context.Context, kind, id string, v []byte, _ time.Time) (bool, error) {
	if _, ok := e.m[kind+id]; ok {
		return false, nil
	}
	e.m[kind+id] = v
	return true, nil
}
func (e *memEntries) GetEntry(_ context.Context, kind, id string) ([]byte, error) {
	if v, ok := e.m[kind+id]; ok {
		return v, nil
	}
	return nil, tokenstore.ErrNotFound
}
func (e *memEntries) TakeEntry(ctx context.Context, kind, id string) ([]byte, error) {
	v, err := e.GetEntry(ctx, kind, id)
	delete(e.m, kind+id)
	return v, err
}
func (e *memEntries) DeleteEntry(_ context.Context, kind, id string) error {
	delete(e.m, kind+id)
	return nil
}
func (e *memEntries) ListEntries(context.Context, string, int) ([][]byte, error) {
	return nil, nil
}
func (e *memEntries) PurgeExpiredEntries(context.Context, string, time.Time) (int, error) {
	return 0, nil
}

// FuzzAuthenticate sends hostile requests (header, query, form body) to a
// server holding one access token: never a panic, never an identity.
func FuzzAuthenticate(f *testing.F) {
	f.Add(`OAuth oauth_consumer_key="k", oauth_token="t", oauth_signature_method="HMAC-SHA1", oauth_signature="x", oauth_timestamp="1", oauth_nonce="n"`, "a=1", "oauth_token=t")
	f.Add(`OAuth realm="", oauth_signature_method="PLAINTEXT", oauth_signature="s%26t"`, "", "")
	f.Add("", "oauth_consumer_key=k&oauth_signature=%zz", "oauth_nonce=1&oauth_nonce=2")
	f.Fuzz(func(t *testing.T, header, query, body string) {
		entries := &memEntries{m: map[string][]byte{}}
		entries.m[kindAccess+"t"] = []byte(`{"consumer":"k","secret":"s","identity":"oauth1:x","user_id":"U"}`)
		s := &Server{Consumers: map[string]Consumer{"k": {Key: "k", Secret: "consumer-secret"}}, Entries: entries}
		s.Init()
		r := httptest.NewRequest("POST", "http://gw.example/1/user/-/profile.json", bytes.NewReader([]byte(body)))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		if id, _, e := s.Authenticate(r); e == nil || id != "" {
			t.Fatalf("authenticated %q without a valid signature", id)
		} else if e.Status != http.StatusUnauthorized && e.Status != http.StatusBadRequest && e.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", e.Status)
		}
	})
}
