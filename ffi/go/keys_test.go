package trailseal

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A key in a real ssh-agent (OpenSSH, started here) signs through OpenSigner and the C ABI;
// tests/keys/check.sh runs the same against SoftHSM2 from the command line.
func TestHeldKeySigner(t *testing.T) {
	requireTools(t, "TRAILSEAL_KEY_TESTS", "ssh-agent", "ssh-keygen", "ssh-add")
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "go-ci", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "agent.sock")
	agent := exec.Command("ssh-agent", "-a", sock, "-D")
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ssh-agent did not start within 10 s")
		}
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	if out, err := exec.Command("ssh-add", "-q", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}

	s, err := OpenSigner("ssh-agent:go-ci", "example.com/go/agent")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := mustCreate(t, "agent.redb", CreateOptions{Origin: "example.com/go/agent"})
	if _, err := l.Append(entry("alice", "deploy.succeeded", "api")); err != nil {
		t.Fatal(err)
	}
	note, err := l.Checkpoint(s, CurrentSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyCheckpoint(note, s.VerifierKey()); err != nil {
		t.Errorf("the agent-signed checkpoint does not verify: %v", err)
	}
	if _, err := s.PrivateKey(); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("a held key's secret: want ErrInvalidArgument, got %v", err)
	}
	_, err = OpenSigner("ssh-agent:nobody", "example.com/go/agent")
	wantCode(t, err, ErrInvalidArgument)
	if !strings.Contains(err.Error(), "holds no key") {
		t.Errorf("no such key: %v", err)
	}
	_, err = OpenSigner("file:/etc/key", "example.com/go/agent")
	wantCode(t, err, ErrInvalidArgument)
	_, err = OpenSigner("pkcs11:objekt=k", "example.com/go/agent")
	wantCode(t, err, ErrMalformed)
}
