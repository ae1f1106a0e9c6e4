package simkit

import (
	"strings"
	"testing"
)

const testVerifier = "01234567890123456789012345678901234567890123456789"

func TestPKCE(t *testing.T) {
	const want = "-4cf-Mzo_qg9-uq0F4QwWhRh4AjcAqNx7SbYVsdmyQM" // RFC 7636 S256 of testVerifier
	if got := S256Challenge(testVerifier); got != want {
		t.Fatalf("S256Challenge = %q, want %q", got, want)
	}
	if !ValidVerifier(testVerifier) || ValidVerifier(strings.Repeat("a", 42)) ||
		ValidVerifier(strings.Repeat("a", 129)) || ValidVerifier(strings.Repeat("a", 42)+"!") {
		t.Fatal("ValidVerifier length/charset rules broken")
	}
	if !ValidChallenge(want, "S256") || ValidChallenge(want[:42], "S256") || ValidChallenge(want[:42]+"!", "S256") {
		t.Fatal("ValidChallenge S256 rules broken")
	}
	if !ValidChallenge(testVerifier, "plain") || ValidChallenge("short", "plain") {
		t.Fatal("ValidChallenge plain rules broken")
	}
	if !VerifierMatches(testVerifier, want, "S256") || VerifierMatches(testVerifier, testVerifier, "S256") {
		t.Fatal("VerifierMatches S256 broken")
	}
	if !VerifierMatches(testVerifier, testVerifier, "plain") || VerifierMatches("short", "short", "plain") {
		t.Fatal("VerifierMatches plain broken")
	}
}
