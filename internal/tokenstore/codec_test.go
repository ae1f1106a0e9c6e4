package tokenstore

import (
	"errors"
	"testing"
	"time"
)

// The codec is what makes the backends' at-rest formats one: what one
// backend sealed, any other opens, and a sealed value is bound to its key.
func TestCodecRecordBoundToKeyAndIdentity(t *testing.T) {
	kr, err := NewKeyring([][]byte{make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	k := KeyOf("fitbit", "alice")
	rec := &Record{Provider: k.Provider, IdentityHash: k.IdentityHash, AccessToken: "a", RefreshToken: "r", Version: 3}
	sealed, err := kr.SealRecord("connections/alice", rec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := kr.OpenRecord("connections/alice", sealed, k)
	if err != nil || got.RefreshToken != "r" || got.Version != 3 {
		t.Fatalf("OpenRecord = %+v, %v", got, err)
	}
	if _, err := kr.OpenRecord("connections/bob", sealed, k); !errors.Is(err, ErrUnreadable) || !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a value moved to another key opened: %v", err)
	}
	if _, err := kr.OpenRecord("connections/alice", sealed, KeyOf("fitbit", "bob")); !errors.Is(err, ErrUnreadable) {
		t.Fatalf("a record of another identity was accepted: %v", err)
	}
	notJSON, _ := kr.Seal([]byte("{"), []byte("connections/alice"))
	if _, err := kr.OpenRecord("connections/alice", notJSON, k); !errors.Is(err, ErrUnreadable) || !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a sealed non-record opened: %v", err)
	}
}

func TestCodecPendingExpiry(t *testing.T) {
	kr, _ := NewKeyring([][]byte{make([]byte, 32)})
	now := time.Unix(1796000000, 0)
	p := &Pending{State: "s", Provider: "fitbit", Identity: "alice", Verifier: "v", Expires: now.Add(time.Minute)}
	sealed, err := kr.SealPending("pending/x", p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := kr.OpenPending("pending/x", sealed, "s", now)
	if err != nil || got.State != "s" || got.Verifier != "v" {
		t.Fatalf("OpenPending = %+v, %v", got, err)
	}
	if _, err := kr.OpenPending("pending/x", sealed, "s", now.Add(time.Minute)); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired pending: %v", err)
	}
	if _, err := kr.OpenPending("pending/y", sealed, "s", now); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a pending moved to another key opened: %v", err)
	}
}

// TestCodecOpensEarlierPendings: a pending authorization written by an
// earlier version, with the legacy front's "next" path in it, still opens
// (during an upgrade, a sign-in in progress is not an unreadable record).
func TestCodecOpensEarlierPendings(t *testing.T) {
	kr, _ := NewKeyring([][]byte{make([]byte, 32)})
	now := time.Unix(1796000000, 0)
	earlier := `{"provider":"fitbit","identity":"oauth1:ab","verifier":"v","next":"/oauth/authorize?oauth_token=t",` +
		`"browser_hash":"h","redirect_uri":"https://gw.example/fitbit/callback","expires":"2026-12-01T00:00:00Z"}`
	sealed, err := kr.Seal([]byte(earlier), []byte("pending/x"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := kr.OpenPending("pending/x", sealed, "s", now)
	if err != nil || got.Identity != "oauth1:ab" || got.Verifier != "v" || got.RedirectURI == "" {
		t.Fatalf("OpenPending(earlier) = %+v, %v", got, err)
	}
}
