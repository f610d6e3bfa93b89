package trailseal

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// requireTools skips the test when a tool it runs is missing, unless the environment variable
// gate is set (tests/run.sh sets it), which makes the absence a failure.
func requireTools(t *testing.T, gate string, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv(gate) != "" {
				t.Fatalf("%s is set but %s is missing", gate, tool)
			}
			t.Skipf("%s missing", tool)
		}
	}
}

// startTSA starts the test time-stamp authority (openssl ts -reply behind tests/tsa/server.py,
// with the PKI of tests/tsa/make_pki.sh) and returns its base URL and PKI folder; it is
// killed when the test ends. Without openssl or python3 the test is skipped, unless
// TRAILSEAL_TSA_TESTS is set (tests/run.sh), which makes their absence a failure.
func startTSA(t *testing.T) (string, string) {
	t.Helper()
	requireTools(t, "TRAILSEAL_TSA_TESTS", "openssl", "python3")
	work := t.TempDir()
	pki := filepath.Join(work, "pki")
	if out, err := exec.Command("bash", "../../tests/tsa/make_pki.sh", pki).CombinedOutput(); err != nil {
		t.Fatalf("make_pki.sh: %v\n%s", err, out)
	}
	portFile := filepath.Join(work, "port")
	server := exec.Command("python3", "../../tests/tsa/server.py", pki, portFile)
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Process.Kill(); server.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if port, err := os.ReadFile(portFile); err == nil && len(port) > 0 {
			return "http://127.0.0.1:" + string(port), pki
		}
		if time.Now().After(deadline) {
			t.Fatal("the TSA server did not start within 20 s")
		}
	}
}

// A kept checkpoint time-stamped through the C ABI: the token is checked and kept, asked
// again it is kept rather than replaced, a bundle carries it, and failures store nothing.
func TestTimestampCheckpointLive(t *testing.T) {
	url, pki := startTSA(t)
	readPEM := func(name string) string {
		b, err := os.ReadFile(filepath.Join(pki, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ca, other := readPEM("ca-ec.pem"), readPEM("ca-rsa.pem")
	s, err := GenerateSigner("example.com/go/tsa")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := mustCreate(t, "tsa.redb", CreateOptions{Origin: "example.com/go/tsa"})
	if _, err := l.Append(entry("alice", "deploy.succeeded", "api")); err != nil {
		t.Fatal(err)
	}
	// No kept checkpoint and no signer to make one.
	_, err = l.TimestampCheckpoint(url+"/ec", ca, CheckpointLatest, nil, 10*time.Second)
	wantCode(t, err, ErrInvalidArgument)

	got, err := l.TimestampCheckpoint(url+"/ec", ca, CheckpointLatest, s, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.Checkpoint != 0 || got.Size != 1 || !got.Requested || got.Attested.Time == "" || len(got.Token) == 0 {
		t.Fatalf("%+v", got)
	}
	kept, err := l.CheckpointTimestamp(0)
	if err != nil || !bytes.Equal(kept, got.Token) {
		t.Fatalf("the kept token is not the one returned: %v", err)
	}
	cps, err := l.Checkpoints()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyTimestampToken(kept, []byte(cps[0].Note), ca); err != nil {
		t.Errorf("the kept token does not check out over its note: %v", err)
	}
	again, err := l.TimestampCheckpoint(url+"/ec", ca, 0, nil, 10*time.Second)
	if err != nil || again.Requested || !bytes.Equal(again.Token, got.Token) {
		t.Errorf("a checkpoint with a valid token keeps it: %+v, %v", again, err)
	}

	b, err := l.Bundle(SelectSubject("service:api"), s)
	if err != nil {
		t.Fatal(err)
	}
	r, err := VerifyBundleWithTSA(b, s.VerifierKey(), ca)
	if err != nil || r.Attested == nil || r.Attested.Time != got.Attested.Time || len(r.Entries) != 1 {
		t.Fatalf("the bundle's token: %+v, %v", r, err)
	}
	_, err = VerifyBundleWithTSA(b, s.VerifierKey(), other)
	wantCode(t, err, ErrVerificationFailed)

	// Failures store nothing: a new checkpoint, a TSA answering garbage, a bad timeout, a
	// checkpoint number that is not kept.
	if _, err := l.Append(entry("bob", "deploy.succeeded", "web")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Checkpoint(s, CurrentSize); err != nil {
		t.Fatal(err)
	}
	_, err = l.TimestampCheckpoint(url+"/garbage", ca, CheckpointLatest, nil, 10*time.Second)
	wantCode(t, err, ErrIO)
	if !strings.Contains(err.Error(), "TimeStampResp") {
		t.Errorf("the garbage answer is not named: %v", err)
	}
	_, err = l.TimestampCheckpoint(url+"/ec", ca, CheckpointLatest, nil, 0)
	wantCode(t, err, ErrInvalidArgument)
	_, err = l.TimestampCheckpoint(url+"/ec", ca, 7, nil, 10*time.Second)
	wantCode(t, err, ErrOutOfRange)
	if none, err := l.CheckpointTimestamp(1); err != nil || none != nil {
		t.Errorf("checkpoint 1 has no token: %v, %v", none, err)
	}
}
