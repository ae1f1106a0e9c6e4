package tokenstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// testKey returns a deterministic 32-byte key.
func testKey(seed string) []byte {
	k := sha256.Sum256([]byte("test key " + seed))
	return k[:]
}

func mustKeyring(t testing.TB, keys ...[]byte) *Keyring {
	t.Helper()
	kr, err := NewKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestSealOpenRoundTrip(t *testing.T) {
	kr := mustKeyring(t, testKey("a"))
	ad := []byte("fitbit/connections/fitbit/abc")
	for _, pt := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("secret"), 1000)} {
		sealed, err := kr.Seal(pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		if sealed[0] != sealVersion || len(sealed) != sealOverhead+len(pt) {
			t.Fatalf("unexpected sealed layout: version %d len %d", sealed[0], len(sealed))
		}
		got, err := kr.Open(sealed, ad)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("round trip: got %q want %q", got, pt)
		}
		if _, err := kr.Open(sealed, []byte("other")); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("wrong associated data: got %v, want ErrDecrypt", err)
		}
	}
	// Nonces are random: sealing the same plaintext twice differs.
	a, _ := kr.Seal([]byte("same"), ad)
	b, _ := kr.Seal([]byte("same"), ad)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical")
	}
}

func TestKeyRotation(t *testing.T) {
	keyA, keyB := testKey("A"), testKey("B")
	ad := []byte("ad")
	sealed, err := mustKeyring(t, keyA).Seal([]byte("refresh-token"), ad)
	if err != nil {
		t.Fatal(err)
	}
	rotated := mustKeyring(t, keyB, keyA)
	got, err := rotated.Open(sealed, ad)
	if err != nil || string(got) != "refresh-token" {
		t.Fatalf("open with [B, A]: %q, %v", got, err)
	}
	// The rotated ring encrypts with B.
	resealed, _ := rotated.Seal(got, ad)
	if !bytes.Equal(resealed[1:headerSize], func() []byte { id := keyID(keyB); return id[:] }()) {
		t.Fatal("rotated keyring does not seal with its first key")
	}
	if _, err := mustKeyring(t, keyB).Open(resealed, ad); err != nil {
		t.Fatalf("B alone cannot open B-sealed value: %v", err)
	}
	_, err = mustKeyring(t, keyB).Open(sealed, ad)
	if !errors.Is(err, ErrDecrypt) {
		t.Fatalf("keyring without A: got %v, want ErrDecrypt", err)
	}
}

func TestOpenRejectsTampering(t *testing.T) {
	kr := mustKeyring(t, testKey("a"))
	sealed, _ := kr.Seal([]byte("payload"), nil)
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if _, err := kr.Open(bad, nil); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("flipping byte %d: got %v, want ErrDecrypt", i, err)
		}
	}
	for n := 0; n < len(sealed); n++ {
		if _, err := kr.Open(sealed[:n], nil); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("truncated to %d: got %v, want ErrDecrypt", n, err)
		}
	}
	bad := bytes.Clone(sealed)
	bad[0] = 7
	_, err := kr.Open(bad, nil)
	if err == nil || !strings.Contains(err.Error(), "unknown sealed format version 7") {
		t.Fatalf("unknown version: got %v", err)
	}
}

func TestParseKeys(t *testing.T) {
	raw := testKey("parse")
	encodings := map[string]string{
		"std":              base64.StdEncoding.EncodeToString(raw),
		"raw std":          base64.RawStdEncoding.EncodeToString(raw),
		"url":              base64.URLEncoding.EncodeToString(raw),
		"raw url":          base64.RawURLEncoding.EncodeToString(raw),
		"trailing newline": base64.StdEncoding.EncodeToString(raw) + "\n",
	}
	want := mustKeyring(t, raw).PrimaryKeyID()
	for name, s := range encodings {
		kr, err := ParseKeys([]string{s})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if kr.PrimaryKeyID() != want {
			t.Fatalf("%s: decoded to a different key", name)
		}
	}

	// Two keys: first encrypts, second decrypts.
	old := testKey("old")
	sealed, _ := mustKeyring(t, old).Seal([]byte("x"), nil)
	kr, err := ParseKeys([]string{encodings["std"], base64.StdEncoding.EncodeToString(old)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Open(sealed, nil); err != nil {
		t.Fatalf("second key does not decrypt: %v", err)
	}
}

func TestParseKeysErrors(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(testKey("s")[:16])
	long := base64.StdEncoding.EncodeToString(append(testKey("l"), 1, 2, 3))
	notB64 := "this*is*not*base64*at*all*but*looks*like*a*secret!"
	hexKey := hex.EncodeToString(testKey("h"))
	good := base64.StdEncoding.EncodeToString(testKey("g"))
	cases := []struct {
		name  string
		in    []string
		want  []string // substrings of the message
		leaks []string // must not appear
	}{
		{"empty list", nil, []string{"no encryption keys configured", "openssl rand -base64 32"}, nil},
		{"empty entry", []string{good, "  "}, []string{"key 2 of 2 is empty", "openssl rand -base64 32"}, []string{good}},
		{"too short", []string{short}, []string{"key 1 of 1 decodes to 16 bytes", "exactly 32 bytes", "openssl rand -base64 32"}, []string{short, strings.TrimRight(short, "=")}},
		{"too long", []string{good, long}, []string{"key 2 of 2 decodes to 35 bytes", "openssl rand -base64 32"}, []string{long, good}},
		{"bad base64", []string{notB64}, []string{"key 1 of 1 is not valid base64", "openssl rand -base64 32"}, []string{notB64, "secret"}},
		{"hex", []string{hexKey}, []string{"hex", "must be base64", "openssl rand -base64 32"}, []string{hexKey, hexKey[:16]}},
		{"duplicate", []string{good, good}, []string{"key 2 of 2 is a duplicate"}, []string{good}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseKeys(c.in)
			if err == nil {
				t.Fatal("expected an error")
			}
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
			for _, l := range c.leaks {
				if strings.Contains(msg, l) {
					t.Errorf("message %q leaks key material", msg)
				}
			}
		})
	}
	if _, err := NewKeyring([][]byte{make([]byte, 16)}); err == nil || !strings.Contains(err.Error(), "16 bytes") {
		t.Fatalf("NewKeyring with a 16-byte key: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	kr := mustKeyring(f, testKey("fuzz"), testKey("fuzz-old"))
	valid, _ := kr.Seal([]byte(`{"access_token":"x"}`), []byte("ad"))
	oldValid, _ := mustKeyring(f, testKey("fuzz-old")).Seal([]byte("old"), []byte("ad"))
	f.Add(valid, []byte("ad"))
	f.Add(oldValid, []byte("ad"))
	f.Add(valid[:sealOverhead], []byte("ad"))
	f.Add([]byte{}, []byte(nil))
	f.Add([]byte{sealVersion}, []byte("ad"))
	f.Add([]byte{2, 0, 0, 0}, []byte("ad"))
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		pt, err := kr.Open(sealed, ad)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("error does not wrap ErrDecrypt: %v", err)
			}
			if pt != nil {
				t.Fatal("plaintext returned with an error")
			}
		}
	})
}

func FuzzParseKeys(f *testing.F) {
	f.Add(base64.StdEncoding.EncodeToString(testKey("1")), "")
	f.Add(base64.RawURLEncoding.EncodeToString(testKey("1")), base64.StdEncoding.EncodeToString(testKey("2")))
	f.Add("", "")
	f.Add("not base64!", "AAAA")
	f.Add(hex.EncodeToString(testKey("3")), "")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, in := range [][]string{{a}, {a, b}} {
			kr, err := ParseKeys(in)
			if err == nil {
				if kr == nil {
					t.Fatal("nil keyring without error")
				}
				sealed, err := kr.Seal([]byte("x"), nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := kr.Open(sealed, nil); err != nil {
					t.Fatal(err)
				}
				continue
			}
			// No input may be echoed. Inputs of 20+ characters without a
			// space cannot occur in the message text by coincidence.
			for _, s := range in {
				s = strings.TrimSpace(s)
				if len(s) >= 20 && !strings.ContainsAny(s, " \t\r\n") && strings.Contains(err.Error(), s) {
					t.Fatalf("error echoes the key input: %v", err)
				}
			}
		}
	})
}
