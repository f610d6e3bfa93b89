package trailseal

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A witness vkey from the independent vectors: refusals need a key, not a witness.
func vectorWitnessKey(t *testing.T) string {
	var v struct {
		WitnessVkeys []string `json:"witness_vkeys"`
	}
	readVectors(t, "cosignature.json", &v)
	return v.WitnessVkeys[0]
}

// A URL nothing listens on.
func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestWitnessRefusals(t *testing.T) {
	key := vectorWitnessKey(t)
	s, err := GenerateSigner("example.com/go/witness")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b3 := mustCreate(t, "b3.redb", CreateOptions{Origin: "example.com/go/witness", Hash: Blake3})
	_, err = b3.Witness(s, []Witness{{URL: deadURL(t), Key: key}}, -1, time.Second)
	wantCode(t, err, ErrInvalidArgument)
	if !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("the BLAKE3 refusal does not say why: %v", err)
	}

	l := mustCreate(t, "w.redb", CreateOptions{Origin: "example.com/go/witness"})
	if _, err := l.Append(entry("alice", "deploy.succeeded", "api")); err != nil {
		t.Fatal(err)
	}
	r, err := l.Witness(s, []Witness{{URL: deadURL(t), Key: key}}, -1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.Quorum != 1 || r.QuorumMet || r.Cosigned != 0 || len(r.Witnesses) != 1 ||
		!strings.Contains(r.Witnesses[0].Error, "connection refused") {
		t.Errorf("a witness that is down: %+v", r)
	}
	for name, call := range map[string]func() error{
		"no witness":   func() error { _, err := l.Witness(s, nil, -1, time.Second); return err },
		"zero timeout": func() error { _, err := l.Witness(s, []Witness{{URL: "http://x", Key: key}}, -1, 0); return err },
		"quorum 2 of 1": func() error {
			_, err := l.Witness(s, []Witness{{URL: "http://x", Key: key}}, 2, time.Second)
			return err
		},
		"nil signer": func() error {
			_, err := l.Witness(nil, []Witness{{URL: "http://x", Key: key}}, -1, time.Second)
			return err
		},
	} {
		if err := call(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: want ErrInvalidArgument, got %v", name, err)
		}
	}
	if _, err := l.Witness(s, []Witness{{URL: "http://x", Key: "not a vkey"}}, -1, time.Second); !errors.Is(err, ErrMalformed) {
		t.Errorf("a witness key that does not parse: want ErrMalformed, got %v", err)
	}
	// Nothing was cosigned, so a ledger held to that witness does not verify; alone it does.
	_, err = l.Verify(VerifyOptions{Witnesses: []string{key}})
	wantCode(t, err, ErrVerificationFailed)
	if rep, err := l.Verify(VerifyOptions{}); err != nil || rep.WitnessedSize != nil {
		t.Errorf("verify without witnesses: %+v, %v", rep, err)
	}
}

// Two real witnesses (torchwood litewitness, started by tests/witness/start.sh) cosign
// through the C ABI, and the ledger verifies under a quorum of both. The witness is built
// from the Go module proxy once per CI run; TRAILSEAL_WITNESS_TESTS=1 (tests/run.sh) makes
// its absence a failure instead of a skip.
func TestWitnessLive(t *testing.T) {
	if os.Getenv("TRAILSEAL_WITNESS_TESTS") == "" {
		t.Skip("set TRAILSEAL_WITNESS_TESTS=1 to run against litewitness (tests/witness/start.sh)")
	}
	const origin = "example.com/go/witness-live"
	s, err := GenerateSigner(origin)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := mustCreate(t, "live.redb", CreateOptions{Origin: origin})
	for i := 0; i < 5; i++ {
		if _, err := l.Append(entry("alice", "build.succeeded", "api-"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	cmd := exec.Command("bash", "../../tests/witness/start.sh", dir, origin, s.VerifierKey(), "w1", "w2")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	t.Cleanup(func() {
		pids, _ := os.ReadFile(filepath.Join(dir, "pids"))
		for _, p := range strings.Fields(string(pids)) {
			if pid, err := strconv.Atoi(p); err == nil {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	})
	if err != nil {
		t.Fatalf("start.sh: %v", err)
	}
	var started []struct{ Name, URL, Vkey string }
	if err := json.Unmarshal(out, &started); err != nil || len(started) != 2 {
		t.Fatalf("start.sh printed %q: %v", out, err)
	}
	witnesses := []Witness{{URL: started[0].URL, Key: started[0].Vkey}, {URL: started[1].URL, Key: started[1].Vkey}}
	keys := []string{started[0].Vkey, started[1].Vkey}

	r, err := l.Witness(s, witnesses, -1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !r.QuorumMet || r.Cosigned != 2 || r.Size != 5 || r.Quorum != 2 {
		t.Fatalf("two witnesses should cosign size 5: %+v", r)
	}
	if _, err := VerifyCosigned(r.Note, s.VerifierKey(), keys, -1); err != nil {
		t.Errorf("the cosigned note does not verify: %v", err)
	}
	for i := 5; i < 9; i++ {
		if _, err := l.Append(entry("bob", "build.succeeded", "api-"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	// From the size they cosigned before: a consistency proof from 5 to 9.
	if r, err = l.Witness(s, witnesses, 2, 10*time.Second); err != nil || !r.QuorumMet || r.Size != 9 {
		t.Fatalf("the second round: %+v, %v", r, err)
	}
	rep, err := l.Verify(VerifyOptions{Witnesses: keys})
	if err != nil {
		t.Fatal(err)
	}
	if rep.WitnessedSize == nil || *rep.WitnessedSize != 9 || rep.CosignaturesChecked != 4 {
		t.Errorf("verify under both witnesses: %+v", rep)
	}
	// Against the cosigned note from outside, with a quorum of one of them.
	if _, err := l.Verify(VerifyOptions{Against: &SignedCheckpoint{Note: r.Note, VerifierKey: s.VerifierKey()}, Witnesses: keys[:1], Quorum: 1}); err != nil {
		t.Errorf("verify against the cosigned note: %v", err)
	}
}
