package storagestore

import (
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore/storetest"
)

// entryHeaderSize is the clear expiry header tokenstore.Keyring.SealEntry
// puts before a sealed entry (8 bytes, big-endian Unix milliseconds).
const entryHeaderSize = 8

// testKey returns a deterministic 32-byte key.
func testKey(seed string) []byte {
	k := sha256.Sum256([]byte("test key " + seed))
	return k[:]
}

func mustKeyring(t testing.TB, keys ...[]byte) *tokenstore.Keyring {
	t.Helper()
	kr, err := tokenstore.NewKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

const (
	secretAccess  = "ACCESS-eyJhbGciOiJIUzI1NiJ9.secret-access-token-value"
	secretRefresh = "REFRESH-4f1a9c0e7d2b3a5968e1f0c2d4b6a8e9-secret-refresh"
)

// sampleRecord is a full record of identity with the tokens whose absence
// at rest the tests look for.
func sampleRecord(identity string) *tokenstore.Record {
	rec := storetest.NewRecord("fitbit", identity)
	rec.AccessToken, rec.RefreshToken = secretAccess, secretRefresh
	rec.Extra = map[string]string{"healthUserId": "hu-1"}
	return rec
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
