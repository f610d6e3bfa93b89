package trailseal

// Ledgers exchanged with the `trailseal` command. TRAILSEAL_CLI names the binary (ffi/test.sh
// sets it); without it the test looks in the repository's target/debug and skips if absent.

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func cliPath(t *testing.T) string {
	if p := os.Getenv("TRAILSEAL_CLI"); p != "" {
		return p
	}
	target := os.Getenv("CARGO_TARGET_DIR")
	if target == "" {
		target = "../../target"
	}
	p, _ := filepath.Abs(filepath.Join(target, "debug", "trailseal"))
	if _, err := os.Stat(p); err != nil {
		t.Skip("the trailseal command is not built (cargo build -p trailseal-cli) and TRAILSEAL_CLI is not set")
	}
	return p
}

func run(t *testing.T, cli string, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command(cli, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("trailseal %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func TestGoLedgerReadByCommand(t *testing.T) {
	cli := cliPath(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "go.redb")
	l, err := Create(path, CreateOptions{Origin: "example.com/go/made", Hash: SHA256})
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := GenerateSigner("example.com/go/made")
	defer signer.Close()
	key, _ := signer.PrivateKey()
	os.WriteFile(path+".key", []byte(key+"\n"), 0o600)
	rs, err := l.AppendBatch([]Entry{
		{ID: "go-1", Actor: Actor{ID: "alice", Role: "sre"}, Action: "deploy.succeeded",
			Subject: Subject{"service", "payments-api"}, Authz: &Authz{Decision: "allow", Policy: "two-person"}},
		{Actor: Actor{ID: "bob"}, Action: "approval.granted", Subject: Subject{"change", "CR-1"},
			Links: []Link{LinkIndex("approves", 0)}, Payload: json.RawMessage(`{"k":[1,2.5,"x"]}`)},
	})
	if err != nil || len(rs) != 2 {
		t.Fatal(err)
	}
	note, _ := l.Checkpoint(signer, CurrentSize)
	entries := [][]byte{}
	for i := uint64(0); i < 2; i++ {
		e, _ := l.Get(i)
		entries = append(entries, e)
	}
	proof, _ := l.proveInclusionJSON(1, CurrentSize)
	l.Close()

	notePath := filepath.Join(dir, "go.note")
	os.WriteFile(notePath, []byte(note), 0o600)
	if got := strings.TrimSpace(run(t, cli, nil, "vkey", path)); got != signer.VerifierKey() {
		t.Fatalf("vkey %q, want %q", got, signer.VerifierKey())
	}
	var report VerifyReport
	json.Unmarshal([]byte(run(t, cli, nil, "verify", path, "--checkpoint", notePath, "--vkey", signer.VerifierKey())), &report)
	if !report.OK || report.Size != 2 || report.ConsistentWithCheckpoint == nil || *report.ConsistentWithCheckpoint != 2 {
		t.Fatalf("trailseal verify: %+v", report)
	}
	for i, e := range entries {
		if got := run(t, cli, nil, "show", path, string(rune('0'+i))); got != string(e)+"\n" {
			t.Fatalf("show %d:\n%s\nwant\n%s", i, got, e)
		}
	}
	if got := strings.TrimSpace(run(t, cli, nil, "prove", "inclusion", path, "1")); got != proof {
		t.Fatalf("prove inclusion:\n%s\nwant\n%s", got, proof)
	}
	// The command appends and signs with the Go-written key; Go reads it back.
	run(t, cli, []byte(`{"actor":{"id":"cli"},"action":"ledger.extended","subject":{"type":"t","id":"go"}}`+"\n"), "append", path)
	cliNote := run(t, cli, nil, "checkpoint", path)
	l, err = Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e, err := l.GetEntry(2)
	if err != nil || e.Actor.ID != "cli" {
		t.Fatalf("GetEntry(2) = %+v, %v", e, err)
	}
	if _, err := l.Verify(VerifyOptions{Against: &SignedCheckpoint{Note: cliNote, VerifierKey: signer.VerifierKey()}}); err != nil {
		t.Fatal(err)
	}
}

func TestCommandLedgerReadByGo(t *testing.T) {
	cli := cliPath(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "cli.redb")
	run(t, cli, nil, "init", path, "--origin", "example.com/cli/made", "--hash", "sha256")
	vkey := strings.TrimSpace(run(t, cli, nil, "vkey", path))
	run(t, cli, nil, "append", path, "--actor", "alice", "--action", "deploy.succeeded", "--subject", "service:payments-api",
		"--decision", "allow", "--policy", "two-person", "--attr", "env=prod", "--id", "cli-1")
	run(t, cli, []byte(`{"actor":{"id":"bob"},"action":"test.passed","subject":{"type":"artifact","id":"a:1"},"links":[{"rel":"tested","index":0}]}`+"\n"),
		"append", path)
	note := run(t, cli, nil, "checkpoint", path)
	shown := run(t, cli, nil, "show", path, "1")
	cliProof := run(t, cli, nil, "prove", "inclusion", path, "1")
	cliDeep := run(t, cli, nil, "verify", path, "--indexes")

	l, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	info, _ := l.Info()
	if info.Origin != "example.com/cli/made" || info.Hash != SHA256 {
		t.Fatalf("Info = %+v", info)
	}
	trusted := &SignedCheckpoint{Note: note, VerifierKey: vkey}
	report, err := l.Verify(VerifyOptions{Against: trusted})
	if err != nil || report.Size != 2 || report.CheckpointsChecked != 1 {
		t.Fatalf("Verify = %+v, %v", report, err)
	}
	// The same report, field for field, as the command's `verify --indexes`.
	var want VerifyReport
	if err := json.Unmarshal([]byte(cliDeep), &want); err != nil || !want.IndexesChecked {
		t.Fatalf("verify --indexes printed %s (%v)", cliDeep, err)
	}
	if deep, err := l.Verify(VerifyOptions{Indexes: true}); err != nil || !reflect.DeepEqual(deep, want) {
		t.Fatalf("Verify Indexes = %+v, %v; the command: %+v", deep, err, want)
	}
	got, _ := l.Get(1)
	if string(got)+"\n" != shown {
		t.Fatalf("Get(1) = %s, show printed %s", got, shown)
	}
	if err := VerifyInclusionJSON([]byte(cliProof), got, trusted); err != nil {
		t.Fatal(err)
	}
	e0, _ := l.GetEntry(0)
	if e0.ID != "cli-1" || e0.Authz == nil || e0.Authz.Policy != "two-person" || e0.Attrs["env"] != "prod" {
		t.Fatalf("GetEntry(0) = %+v", e0)
	}
	// The command's key file signs through Go; the retried id is recorded once.
	keyText, _ := os.ReadFile(path + ".key")
	signer, err := ParseSigner(string(keyText))
	if err != nil || signer.VerifierKey() != vkey {
		t.Fatalf("ParseSigner(key file): %v", err)
	}
	defer signer.Close()
	again, err := l.Append(`{"id":"cli-1","actor":{"id":"alice"},"action":"deploy.succeeded","subject":{"type":"service","id":"payments-api"},"authz":{"decision":"allow","policy":"two-person"},"attrs":{"env":"prod"}}`)
	if err != nil || again.Index != 0 {
		t.Fatalf("retried id: %+v, %v", again, err)
	}
	l.Append(entry("go", "ledger.extended", "cli"))
	goNote, _ := l.Checkpoint(signer, CurrentSize)
	l.Close()
	notePath := filepath.Join(dir, "go.note")
	os.WriteFile(notePath, []byte(goNote), 0o600)
	out := run(t, cli, nil, "verify", path, "--checkpoint", notePath, "--vkey", vkey)
	if !strings.Contains(out, `"consistent_with_checkpoint":3`) || !strings.Contains(out, `"checkpoints_checked":2`) {
		t.Fatalf("trailseal verify: %s", out)
	}
}
