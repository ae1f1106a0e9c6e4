package tokenstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// KeySize is the length of an encryption key: AES-256.
const KeySize = 32

// Sealed format, version 1:
//
//	[0]      version (sealVersion)
//	[1:9]    key id: first 8 bytes of SHA-256("caddy-fitbit/key-id/v1\x00" + key)
//	[9:21]   random 96-bit GCM nonce
//	[21:]    AES-256-GCM ciphertext + 16-byte tag
//
// The GCM additional data is header (version + key id) followed by the
// caller's associated data, so the header cannot be altered either.
const (
	sealVersion  byte = 1
	keyIDSize         = 8
	nonceSize         = 12
	headerSize        = 1 + keyIDSize
	sealOverhead      = headerSize + nonceSize + 16
	keyIDDomain       = "caddy-fitbit/key-id/v1\x00"
)

// ErrDecrypt is returned (wrapped) when a sealed value cannot be opened. The
// message never says anything about the keys or the plaintext.
var ErrDecrypt = errors.New("tokenstore: cannot decrypt stored value")

const keyHowTo = "generate a key with: openssl rand -base64 32"

// Keyring encrypts with its first key and decrypts with any of its keys, so
// keys can be rotated: put the new key first, keep the old ones after it until
// every value has been rewritten, then drop them.
type Keyring struct {
	primary keyEntry
	byID    map[[keyIDSize]byte]cipher.AEAD
	ids     []string // hex ids in configured order, the primary first
}

type keyEntry struct {
	id   [keyIDSize]byte
	aead cipher.AEAD
}

// ParseKeys decodes base64 keys (standard or URL alphabet, padded or not,
// surrounding whitespace ignored), each exactly 32 bytes. The first key
// encrypts; all keys decrypt. Errors name the offending entry by position and
// say how to make a key; they never contain key material.
func ParseKeys(encoded []string) (*Keyring, error) {
	if len(encoded) == 0 {
		return nil, fmt.Errorf("tokenstore: no encryption keys configured; at least one 32-byte base64 key is required (%s)", keyHowTo)
	}
	keys := make([][]byte, 0, len(encoded))
	for i, s := range encoded {
		k, err := decodeKey(s)
		if err != nil {
			return nil, fmt.Errorf("tokenstore: encryption key %d of %d %s (%s)", i+1, len(encoded), err.Error(), keyHowTo)
		}
		keys = append(keys, k)
	}
	return NewKeyring(keys)
}

// decodeKey returns an error whose text is safe to show: it describes the
// input only by length and shape.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("is empty")
	}
	if len(s) == 2*KeySize && isHex(s) {
		return nil, errors.New("looks like 64 hex digits; it must be base64 (convert with: echo <hex> | xxd -r -p | base64)")
	}
	var (
		b   []byte
		err error
	)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("is not valid base64 (%d characters)", len(s))
	}
	if len(b) != KeySize {
		return nil, fmt.Errorf("decodes to %d bytes; it must be exactly %d bytes (AES-256)", len(b), KeySize)
	}
	return b, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// NewKeyring builds a keyring from raw 32-byte keys; the first one encrypts.
// The keys are copied.
func NewKeyring(keys [][]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("tokenstore: no encryption keys configured; at least one 32-byte key is required (%s)", keyHowTo)
	}
	kr := &Keyring{byID: make(map[[keyIDSize]byte]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("tokenstore: encryption key %d of %d is %d bytes; it must be exactly %d bytes (%s)", i+1, len(keys), len(k), KeySize, keyHowTo)
		}
		id := keyID(k)
		if _, dup := kr.byID[id]; dup {
			return nil, fmt.Errorf("tokenstore: encryption key %d of %d is a duplicate of an earlier key; list each key once", i+1, len(keys))
		}
		block, err := aes.NewCipher(append([]byte(nil), k...))
		if err != nil {
			return nil, fmt.Errorf("tokenstore: encryption key %d of %d: cannot initialise AES", i+1, len(keys))
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("tokenstore: encryption key %d of %d: cannot initialise GCM", i+1, len(keys))
		}
		kr.byID[id] = aead
		kr.ids = append(kr.ids, fmt.Sprintf("%x", id[:]))
		if i == 0 {
			kr.primary = keyEntry{id: id, aead: aead}
		}
	}
	return kr, nil
}

func keyID(key []byte) [keyIDSize]byte {
	h := sha256.New()
	h.Write([]byte(keyIDDomain))
	h.Write(key)
	var id [keyIDSize]byte
	copy(id[:], h.Sum(nil))
	return id
}

// PrimaryKeyID returns the hex id of the key that encrypts. The id is a hash
// prefix, safe to log, and lets operators tell which key a deployment uses.
func (k *Keyring) PrimaryKeyID() string { return fmt.Sprintf("%x", k.primary.id[:]) }

// KeyIDs returns the hex ids of the keyring's keys in configured order: the
// one that encrypts first, then those that only decrypt.
func (k *Keyring) KeyIDs() []string { return slices.Clone(k.ids) }

// SealedKeyID returns the hex id of the key a value made by Seal names in
// its header, without opening it: "" if sealed is not in a format this build
// reads. Whether the key is configured, and whether the value opens, is
// for Open to say.
func SealedKeyID(sealed []byte) string {
	if len(sealed) < sealOverhead || sealed[0] != sealVersion {
		return ""
	}
	return fmt.Sprintf("%x", sealed[1:headerSize])
}

// Seal encrypts plaintext, binding it to associatedData (which is not stored).
func (k *Keyring) Seal(plaintext, associatedData []byte) ([]byte, error) {
	out := make([]byte, headerSize+nonceSize, sealOverhead+len(plaintext))
	out[0] = sealVersion
	copy(out[1:headerSize], k.primary.id[:])
	if _, err := rand.Read(out[headerSize:]); err != nil {
		return nil, fmt.Errorf("tokenstore: reading random nonce: %w", err)
	}
	nonce := out[headerSize : headerSize+nonceSize]
	return k.primary.aead.Seal(out, nonce, plaintext, gcmAD(out[:headerSize], associatedData)), nil
}

// Open decrypts a value made by Seal with any key of the keyring and the same
// associatedData. Every failure wraps ErrDecrypt.
func (k *Keyring) Open(sealed, associatedData []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, fmt.Errorf("%w: value is empty", ErrDecrypt)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: unknown sealed format version %d (this build reads version %d)", ErrDecrypt, sealed[0], sealVersion)
	}
	if len(sealed) < sealOverhead {
		return nil, fmt.Errorf("%w: value is truncated", ErrDecrypt)
	}
	var id [keyIDSize]byte
	copy(id[:], sealed[1:headerSize])
	aead, ok := k.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: it was encrypted with a key that is not configured (was a key removed from the keyring?)", ErrDecrypt)
	}
	nonce := sealed[headerSize : headerSize+nonceSize]
	pt, err := aead.Open(nil, nonce, sealed[headerSize+nonceSize:], gcmAD(sealed[:headerSize], associatedData))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (value corrupted, or stored under a different key)", ErrDecrypt)
	}
	return pt, nil
}

func gcmAD(header, ad []byte) []byte {
	b := make([]byte, 0, len(header)+len(ad))
	return append(append(b, header...), ad...)
}
