package trailseal

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Time-stamp tokens made by OpenSSL (tests/vectors/timestamp-token/README.md), checked
// through the C ABI.
func TestTimestampTokenVectors(t *testing.T) {
	dir := filepath.Join(vectorsDir, "timestamp-token")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	note := read("note.txt")
	cas := map[string]string{"ec": string(read("ca-ec.pem")), "rsa": string(read("ca-rsa.pem"))}
	for kind, other := range map[string]string{"ec": "rsa", "rsa": "ec"} {
		token := read("token-" + kind + ".der")
		a, err := VerifyTimestampToken(token, note, cas[kind])
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if a.Time == "" || a.TSA == "" || a.Serial == "" || a.Policy == "" {
			t.Errorf("%s: %+v", kind, a)
		}
		if _, err := VerifyTimestampToken(token, note, cas[other]); !errors.Is(err, ErrVerificationFailed) {
			t.Errorf("%s under the %s CA: want ErrVerificationFailed, got %v", kind, other, err)
		}
		if _, err := VerifyTimestampToken(token, []byte("another note\n"), cas[kind]); !errors.Is(err, ErrVerificationFailed) {
			t.Errorf("%s for another note: want ErrVerificationFailed, got %v", kind, err)
		}
	}
	if _, err := VerifyTimestampToken(read("token-ec.der"), note, "not a certificate"); !errors.Is(err, ErrMalformed) {
		t.Errorf("a CA that does not parse: want ErrMalformed, got %v", err)
	}
	if _, err := VerifyTimestampToken([]byte{0x30, 0x03}, note, cas["ec"]); err == nil {
		t.Error("a cut token was accepted")
	}
}
