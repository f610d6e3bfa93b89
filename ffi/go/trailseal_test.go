package trailseal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustCreate(t *testing.T, name string, opts CreateOptions) *Ledger {
	t.Helper()
	if opts.Origin == "" {
		opts.Origin = "example.com/go/test"
	}
	l, err := Create(filepath.Join(t.TempDir(), name), opts)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func entry(actor, action, subject string) Entry {
	return Entry{Actor: Actor{ID: actor}, Action: action, Subject: Subject{Type: "service", ID: subject}}
}

func wantCode(t *testing.T, err error, sentinel *Error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("got %v, want %v", err, sentinel)
	}
	var e *Error
	if !errors.As(err, &e) || e.Message == "" {
		t.Fatalf("%v: no message", err)
	}
}

func TestVersion(t *testing.T) {
	if v := Version(); !strings.Contains(v, ".") {
		t.Fatalf("Version() = %q", v)
	}
}

func TestErrorsMatchEveryCodeByNumber(t *testing.T) {
	sentinels := map[Code]*Error{
		1: ErrInvalidEntry, 2: ErrIDConflict, 3: ErrMalformed, 4: ErrVerificationFailed,
		5: ErrTampered, 6: ErrInconsistent, 7: ErrOutOfRange, 8: ErrInvalidArgument,
		9: ErrWrongKind, 10: ErrAlreadyExists, 11: ErrNotFound, 12: ErrNotALedger,
		13: ErrLocked, 14: ErrStorage, 15: ErrIO, 16: ErrInternal, 17: ErrClosed,
		18:  ErrRuleViolation,
		100: ErrNullArgument, 101: ErrInvalidUTF8, 102: ErrPanic,
	}
	names := []string{"", "invalid_entry", "id_conflict", "malformed", "verification_failed",
		"tampered", "inconsistent", "out_of_range", "invalid_argument", "wrong_kind",
		"already_exists", "not_found", "not_a_ledger", "locked", "storage", "io", "internal", "closed",
		"rule_violation"}
	if len(sentinels) != 21 {
		t.Fatal("a code without a sentinel")
	}
	for code, sentinel := range sentinels {
		if sentinel.Code != code {
			t.Errorf("sentinel of %d has code %d", code, sentinel.Code)
		}
		err := fmt.Errorf("wrapped: %w", &Error{Code: code, Message: "something"})
		for other, s := range sentinels {
			if errors.Is(err, s) != (other == code) {
				t.Errorf("errors.Is(code %d, sentinel %d) = %v", code, other, !(other == code))
			}
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != code {
			t.Errorf("errors.As lost code %d", code)
		}
		if int(code) < len(names) && code.String() != names[code] {
			t.Errorf("code %d is %q, want %q", code, code.String(), names[code])
		}
		if !strings.HasSuffix(err.Error(), "["+code.String()+"]") {
			t.Errorf("%q does not name its code", err.Error())
		}
	}
	if CodeNullArgument.String() != "null_argument" || CodeInvalidUTF8.String() != "invalid_utf8" ||
		CodePanic.String() != "panic" || Code(19).String() != "unknown" {
		t.Error("boundary code names")
	}
	if !errors.Is(&Error{Code: CodeNotFound, Message: "x"}, fs.ErrNotExist) ||
		!errors.Is(&Error{Code: CodeAlreadyExists, Message: "x"}, fs.ErrExist) ||
		errors.Is(&Error{Code: CodeIO, Message: "x"}, fs.ErrNotExist) {
		t.Error("fs sentinels")
	}
}

func TestCreateAppendGet(t *testing.T) {
	l := mustCreate(t, "a.redb", CreateOptions{Origin: "example.com/go/a", Hash: SHA256})
	info, err := l.Info()
	if err != nil || info.Origin != "example.com/go/a" || info.Hash != SHA256 || info.Kind != "entries" ||
		info.MaxEntryBytes != 1<<20 || !strings.HasSuffix(info.Path, "a.redb") {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	// An Entry, a map, JSON text as string and as []byte.
	e0 := entry("alice", "deploy.succeeded", "payments-api")
	e0.Attrs = map[string]string{"env": "prod"}
	e0.Links = []Link{LinkRef("built_from", "git:4f2a9c1")}
	r0, err := l.Append(e0)
	if err != nil || r0.Index != 0 || r0.TreeSize != 1 || len(r0.Time) != 30 {
		t.Fatalf("Append = %+v, %v", r0, err)
	}
	r1, err := l.Append(map[string]any{
		"actor": map[string]any{"id": "bob"}, "action": "approval.granted",
		"subject": map[string]any{"type": "change", "id": "CR-1"},
		"links":   []any{map[string]any{"rel": "approves", "index": 0}},
		"payload": map[string]any{"n": 1.5, "list": []any{true, nil}},
	})
	if err != nil || r1.Index != 1 {
		t.Fatalf("Append(map) = %+v, %v", r1, err)
	}
	r2, err := l.Append(`{"actor":{"id":"carol"},"action":"a.b","subject":{"type":"t","id":"é✓"}}`)
	if err != nil || r2.Index != 2 {
		t.Fatalf("Append(string) = %+v, %v", r2, err)
	}
	r3, err := l.Append([]byte(`{"actor":{"id":"dave"},"action":"a.b","subject":{"type":"t","id":"x"}}`))
	if err != nil || r3.Index != 3 {
		t.Fatalf("Append([]byte) = %+v, %v", r3, err)
	}

	// Get: the exact leaf bytes, canonical, hashing to the receipt's leaf hash.
	got, err := l.Get(0)
	if err != nil {
		t.Fatal(err)
	}
	canon, err := CanonicalJSON(got)
	if err != nil || !bytes.Equal(canon, got) {
		t.Fatalf("entry is not canonical: %s vs %s (%v)", got, canon, err)
	}
	h, err := LeafHash(SHA256, got)
	if err != nil || h != r0.LeafHash {
		t.Fatalf("leaf hash %v, receipt %v (%v)", h, r0.LeafHash, err)
	}
	if lh, err := l.LeafHash(0); err != nil || lh != r0.LeafHash {
		t.Fatalf("LeafHash = %v, %v", lh, err)
	}
	raw, err := l.GetRaw(0)
	if err != nil || !bytes.Equal(raw, got) {
		t.Fatalf("GetRaw = %q, %v", raw, err)
	}
	back, err := l.GetEntry(0)
	if err != nil || back.V != 1 || back.Time != r0.Time || back.Actor.ID != "alice" ||
		back.Attrs["env"] != "prod" || back.Links[0].Ref != "git:4f2a9c1" {
		t.Fatalf("GetEntry = %+v, %v", back, err)
	}
	e1, err := l.GetEntry(1)
	if err != nil || *e1.Links[0].Index != 0 || string(e1.Payload) != `{"list":[true,null],"n":1.5}` {
		t.Fatalf("GetEntry(1) = %+v, %v", e1, err)
	}

	// Sizes and roots.
	if n, err := l.Size(); err != nil || n != 4 {
		t.Fatalf("Size = %d, %v", n, err)
	}
	root, err := l.Root()
	if err != nil || root != r3.Root {
		t.Fatalf("Root = %v, %v", root, err)
	}
	if r, err := l.RootAt(1); err != nil || r != r0.Root {
		t.Fatalf("RootAt(1) = %v, %v", r, err)
	}
	if r, err := l.RootAt(0); err != nil || r.String() != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("RootAt(0) = %v, %v", r, err)
	}

	// Receipts marshal to the SPEC form.
	text, _ := json.Marshal(r0)
	if !strings.HasPrefix(string(text), `{"index":0,"leaf_hash":"`+r0.LeafHash.String()) {
		t.Fatalf("receipt JSON %s", text)
	}

	// Errors.
	_, err = l.Get(4)
	wantCode(t, err, ErrOutOfRange)
	_, err = l.GetRaw(99)
	wantCode(t, err, ErrOutOfRange)
	_, err = l.LeafHash(99)
	wantCode(t, err, ErrOutOfRange)
	_, err = l.RootAt(5)
	wantCode(t, err, ErrOutOfRange)
	_, err = l.Append(Entry{Actor: Actor{ID: "x"}, Action: "Not Valid", Subject: Subject{"t", "i"}})
	wantCode(t, err, ErrInvalidEntry)
	if !strings.Contains(err.Error(), "action") {
		t.Errorf("message %q does not name the field", err)
	}
	_, err = l.Append(`{"actor":{"id":"x"},"actor":{"id":"y"},"action":"a","subject":{"type":"t","id":"i"}}`)
	wantCode(t, err, ErrMalformed)
	_, err = l.Append("{nope")
	wantCode(t, err, ErrMalformed)
	_, err = l.Append("{\"a\":\"\x00\"}")
	wantCode(t, err, ErrMalformed)
	_, err = l.Append(map[string]any{"f": func() {}})
	wantCode(t, err, ErrMalformed)
	_, err = l.Append("{\"actor\":{\"id\":\"\xff\"},\"action\":\"a\",\"subject\":{\"type\":\"t\",\"id\":\"i\"}}")
	wantCode(t, err, ErrInvalidUTF8)
	_, err = l.AppendRaw([]byte("x"))
	wantCode(t, err, ErrWrongKind)
	_, err = l.AppendRawBatch([][]byte{[]byte("x")})
	wantCode(t, err, ErrWrongKind)
	if n, _ := l.Size(); n != 4 {
		t.Fatalf("refused input wrote something: size %d", n)
	}
}

func TestAppendBatchAndIDs(t *testing.T) {
	l := mustCreate(t, "b.redb", CreateOptions{})
	rs, err := l.AppendBatch([]Entry{
		entry("a", "build.succeeded", "x"),
		entry("b", "test.passed", "x"),
		{ID: "evt-1", Actor: Actor{ID: "c"}, Action: "scan.passed", Subject: Subject{"artifact", "x"},
			Links: []Link{LinkIndex("scanned", 0), LinkIndex("tested", 1)}},
	})
	if err != nil || len(rs) != 3 || rs[2].Index != 2 || rs[2].TreeSize != 3 {
		t.Fatalf("AppendBatch = %+v, %v", rs, err)
	}
	rs2, err := l.AppendBatch(`[]`)
	if err != nil || rs2 == nil || len(rs2) != 0 {
		t.Fatalf("empty batch = %#v, %v", rs2, err)
	}
	rs3, err := l.AppendBatch([]json.RawMessage{json.RawMessage(`{"actor":{"id":"d"},"action":"a","subject":{"type":"t","id":"i"}}`)})
	if err != nil || rs3[0].Index != 3 {
		t.Fatalf("batch of RawMessage = %+v, %v", rs3, err)
	}
	// Atomic: an invalid entry anywhere writes nothing, and is named by its position.
	_, err = l.AppendBatch([]any{entry("e", "ok.fine", "x"), entry("f", "BAD", "x")})
	wantCode(t, err, ErrInvalidEntry)
	if !strings.Contains(err.Error(), "[1].action") {
		t.Errorf("message %q", err)
	}
	_, err = l.AppendBatch(entry("e", "ok.fine", "x"))
	wantCode(t, err, ErrMalformed)
	if n, _ := l.Size(); n != 4 {
		t.Fatalf("size %d after refused batches", n)
	}
	// Idempotent id.
	again, err := l.Append(Entry{ID: "evt-1", Actor: Actor{ID: "c"}, Action: "scan.passed", Subject: Subject{"artifact", "x"},
		Links: []Link{LinkIndex("scanned", 0), LinkIndex("tested", 1)}})
	if err != nil || again != rs[2] {
		t.Fatalf("retried append = %+v, %v; want %+v", again, err, rs[2])
	}
	_, err = l.Append(Entry{ID: "evt-1", Actor: Actor{ID: "mallory"}, Action: "scan.passed", Subject: Subject{"artifact", "x"}})
	wantCode(t, err, ErrIDConflict)
}

func TestRawLedger(t *testing.T) {
	l := mustCreate(t, "raw.redb", CreateOptions{Raw: true, MaxEntryBytes: 8, Durability: NotDurableUntilSync})
	r, err := l.AppendRaw([]byte{0, 1, 2})
	if err != nil || r.Index != 0 || r.Time != "" {
		t.Fatalf("AppendRaw = %+v, %v", r, err)
	}
	if _, err := l.AppendRaw(nil); err != nil {
		t.Fatal(err)
	}
	rs, err := l.AppendRawBatch([][]byte{[]byte("ab"), {}, []byte("12345678")})
	if err != nil || len(rs) != 3 || rs[2].Index != 4 {
		t.Fatalf("AppendRawBatch = %+v, %v", rs, err)
	}
	if rs, err := l.AppendRawBatch(nil); err != nil || len(rs) != 0 {
		t.Fatalf("empty raw batch = %+v, %v", rs, err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]byte{{0, 1, 2}, {}, []byte("ab"), {}, []byte("12345678")} {
		got, err := l.GetRaw(uint64(i))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("GetRaw(%d) = %q, %v", i, got, err)
		}
	}
	empty, _ := LeafHash("", nil)
	if h, _ := l.LeafHash(1); h != empty {
		t.Fatal("empty leaf hash")
	}
	_, err = l.AppendRaw([]byte("123456789"))
	wantCode(t, err, ErrInvalidArgument)
	_, err = l.AppendRawBatch([][]byte{[]byte("ok"), []byte("123456789")})
	wantCode(t, err, ErrInvalidArgument)
	_, err = l.Get(0)
	wantCode(t, err, ErrWrongKind)
	_, err = l.Append(entry("a", "b", "c"))
	wantCode(t, err, ErrWrongKind)
	if n, _ := l.Size(); n != 5 {
		t.Fatalf("size %d", n)
	}
	// A raw ledger has no query indexes: Indexes has nothing to check.
	if r, err := l.Verify(VerifyOptions{Indexes: true}); err != nil || r.Size != 5 || r.PostingsChecked != 0 || r.IndexesChecked {
		t.Fatalf("Verify raw = %+v, %v", r, err)
	}
}

func TestCreateOpenErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "l.redb")
	l, err := Create(path, CreateOptions{Origin: "example.com/go/open", Hash: SHA256, Share: Exclusive})
	if err != nil {
		t.Fatal(err)
	}
	var _ io.Closer = l
	_, err = Create(path, CreateOptions{Origin: "o"})
	wantCode(t, err, ErrAlreadyExists)
	if !errors.Is(err, fs.ErrExist) {
		t.Error("ErrAlreadyExists is not fs.ErrExist")
	}
	_, err = Open(path, OpenOptions{Share: Exclusive})
	wantCode(t, err, ErrLocked)
	start := time.Now()
	_, err = Open(path, OpenOptions{Wait: 50 * time.Millisecond, Share: Exclusive})
	wantCode(t, err, ErrLocked)
	if time.Since(start) < 40*time.Millisecond {
		t.Error("Open did not wait")
	}
	// A waiting Open gets the ledger once it is released.
	go func() {
		time.Sleep(50 * time.Millisecond)
		l.Close()
	}()
	l2, err := Open(path, OpenOptions{Wait: 10 * time.Second, Share: Exclusive})
	if err != nil {
		t.Fatalf("Open after release: %v", err)
	}
	if info, _ := l2.Info(); info.Hash != SHA256 {
		t.Fatal("reopened ledger lost its hash")
	}
	l2.Close()

	_, err = Open(filepath.Join(dir, "missing.redb"), OpenOptions{})
	wantCode(t, err, ErrNotFound)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("ErrNotFound is not fs.ErrNotExist")
	}
	junk := filepath.Join(dir, "junk.redb")
	os.WriteFile(junk, bytes.Repeat([]byte("not a ledger "), 1000), 0o600)
	_, err = Open(junk, OpenOptions{})
	wantCode(t, err, ErrNotALedger)
	_, err = Create(filepath.Join(dir, "no", "such", "dir.redb"), CreateOptions{Origin: "o"})
	wantCode(t, err, ErrIO)
	_, err = Create(filepath.Join(dir, "x.redb"), CreateOptions{Origin: "o", Hash: "md5"})
	wantCode(t, err, ErrInvalidArgument)
	_, err = Create(filepath.Join(dir, "x.redb"), CreateOptions{})
	wantCode(t, err, ErrInvalidArgument)
	_, err = Create(filepath.Join(dir, "x.redb"), CreateOptions{Origin: "two\nlines"})
	wantCode(t, err, ErrInvalidArgument)
	_, err = Create(filepath.Join(dir, "x\x00.redb"), CreateOptions{Origin: "o"})
	wantCode(t, err, ErrInvalidArgument)
	_, err = Create(filepath.Join(dir, "x.redb"), CreateOptions{Origin: "bad\xff"})
	wantCode(t, err, ErrInvalidUTF8)
	if _, err := os.Stat(filepath.Join(dir, "x.redb")); err == nil {
		t.Error("a refused Create left a file")
	}
}

func TestSharing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.redb")
	a, err := Create(path, CreateOptions{Origin: "example.com/go/shared"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// Two handles in the default mode both append, and each sees the other's entries.
	b, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatalf("second Open in the default mode: %v", err)
	}
	defer b.Close()
	if info, err := b.Info(); err != nil || info.Sharing != Auto || info.SharingNow != MultiWriter || info.ReadOnly {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if r, err := a.Append(entry("alice", "deploy.succeeded", "from-a")); err != nil || r.Index != 0 {
		t.Fatalf("append through a: %+v, %v", r, err)
	}
	if r, err := b.Append(entry("bob", "deploy.succeeded", "from-b")); err != nil || r.Index != 1 {
		t.Fatalf("append through b: %+v, %v", r, err)
	}
	for _, l := range []*Ledger{a, b} {
		if n, err := l.Size(); err != nil || n != 2 {
			t.Fatalf("Size = %d, %v", n, err)
		}
	}
	if e, err := a.Get(1); err != nil || !bytes.Contains(e, []byte(`"from-b"`)) {
		t.Fatalf("a.Get(1) = %+v, %v", e, err)
	}
	if e, err := b.Get(0); err != nil || !bytes.Contains(e, []byte(`"from-a"`)) {
		t.Fatalf("b.Get(0) = %+v, %v", e, err)
	}

	// A read-only handle reads beside the writers and refuses every write.
	r, err := Open(path, OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if info, err := r.Info(); err != nil || !info.ReadOnly {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if _, err := a.Append(entry("alice", "deploy.succeeded", "again")); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Size(); err != nil || n != 3 {
		t.Fatalf("read-only Size = %d, %v", n, err)
	}
	_, err = r.Append(entry("mallory", "deploy.succeeded", "x"))
	wantCode(t, err, ErrInvalidArgument)
	wantCode(t, r.Sync(), ErrInvalidArgument)
	if n, _ := a.Size(); n != 3 {
		t.Fatalf("a refused append wrote: size %d", n)
	}

	// Modes by name ("_" for "-", as the library spells them); refused names and combinations.
	_, err = Open(path, OpenOptions{Share: "shared"})
	wantCode(t, err, ErrMalformed)
	_, err = Open(path, OpenOptions{Share: "multi-writer\x00"})
	wantCode(t, err, ErrMalformed)
	_, err = Open(path, OpenOptions{Share: MultiWriter, Durability: NotDurableUntilSync})
	wantCode(t, err, ErrInvalidArgument)
	created := filepath.Join(t.TempDir(), "single.redb")
	c, err := Create(created, CreateOptions{Origin: "example.com/go/shared", Share: "single_writer"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if info, err := c.Info(); err != nil || info.Sharing != SingleWriter {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	_, err = Create(filepath.Join(t.TempDir(), "x.redb"), CreateOptions{Origin: "o", Share: "shared"})
	wantCode(t, err, ErrMalformed)
}

func TestClosed(t *testing.T) {
	l := mustCreate(t, "c.redb", CreateOptions{})
	s, err := GenerateSigner("example.com/go/test")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := l.Size(); !errors.Is(err, ErrClosed) || err != ErrClosed {
		t.Fatalf("Size after Close: %v", err)
	}
	// Exactly the core's closed code, and no other sentinel's.
	var e *Error
	if _, err := l.Root(); CodeClosed != 17 || !errors.As(err, &e) || e.Code != CodeClosed ||
		e.Code.String() != "closed" || errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Root after Close: %v", err)
	}
	if _, err := l.Append(entry("a", "b", "c")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	s.Close()
	if _, err := s.PrivateKey(); !errors.Is(err, ErrClosed) {
		t.Fatalf("PrivateKey after Close: %v", err)
	}
	l2 := mustCreate(t, "c2.redb", CreateOptions{})
	if _, err := l2.Checkpoint(s, CurrentSize); !errors.Is(err, ErrClosed) {
		t.Fatalf("Checkpoint with a closed signer: %v", err)
	}
	if _, err := l2.Checkpoint(nil, CurrentSize); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Checkpoint with a nil signer: %v", err)
	}
}

func TestSigners(t *testing.T) {
	s, err := GenerateSigner("example.com/go/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key, err := s.PrivateKey()
	if err != nil || !strings.HasPrefix(key, "PRIVATE+KEY+example.com/go/keys+") {
		t.Fatalf("PrivateKey = %q, %v", key, err)
	}
	if !strings.HasPrefix(s.VerifierKey(), "example.com/go/keys+") || s.String() != s.VerifierKey() {
		t.Fatalf("VerifierKey = %q", s.VerifierKey())
	}
	s2, err := ParseSigner("  " + key + "\n")
	if err != nil || s2.VerifierKey() != s.VerifierKey() {
		t.Fatalf("ParseSigner: %v", err)
	}
	s2.Close()
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i)
	}
	s3, err := SignerFromSeed("example.com/audit/payments", seed)
	if err != nil || s3.VerifierKey() != "example.com/audit/payments+0481367f+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4" {
		t.Fatalf("SignerFromSeed = %v, %v", s3, err)
	}
	s3.Close()
	for _, bad := range []string{"", "a b", "a+b", "x\x00y"} {
		_, err := GenerateSigner(bad)
		wantCode(t, err, ErrMalformed)
	}
	_, err = ParseSigner(s.VerifierKey())
	wantCode(t, err, ErrMalformed)
	_, err = ParseSigner(key[:len(key)-2])
	wantCode(t, err, ErrMalformed)
	if strings.Contains(err.Error(), key[20:]) {
		t.Error("the error quotes the key")
	}
	_, err = SignerFromSeed("n", seed[:31])
	wantCode(t, err, ErrInvalidArgument)
	_, err = SignerFromSeed("n", nil)
	wantCode(t, err, ErrInvalidArgument)
}

func TestProofsCheckpointsVerify(t *testing.T) {
	l := mustCreate(t, "p.redb", CreateOptions{Origin: "example.com/go/proofs"})
	for i := 0; i < 11; i++ {
		if _, err := l.Append(entry("deployer", "deploy.succeeded", fmt.Sprintf("svc-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	signer, _ := GenerateSigner("example.com/go/proofs")
	defer signer.Close()
	other, _ := GenerateSigner("example.com/go/other")
	defer other.Close()

	for size := uint64(1); size <= 11; size++ {
		for i := uint64(0); i < size; i++ {
			p, err := l.ProveInclusion(i, size)
			if err != nil || p.Index != i || p.TreeSize != size || p.Hash != SHA256 {
				t.Fatalf("ProveInclusion(%d, %d) = %+v, %v", i, size, p, err)
			}
			// The struct marshals to exactly the library's SPEC JSON.
			text, _ := l.proveInclusionJSON(i, size)
			if mine, _ := json.Marshal(p); string(mine) != text {
				t.Fatalf("marshal:\n%s\n%s", mine, text)
			}
			if err := p.Verify(); err != nil {
				t.Fatal(err)
			}
			leaf, _ := l.Get(i)
			if err := VerifyInclusion(p, leaf, nil); err != nil {
				t.Fatal(err)
			}
			wantCode(t, VerifyInclusion(p, leaf[1:], nil), ErrVerificationFailed)
		}
		c, err := l.ProveConsistency(size/2, size)
		if err != nil || c.OldSize != size/2 || c.NewSize != size {
			t.Fatalf("ProveConsistency = %+v, %v", c, err)
		}
		text, _ := l.proveConsistencyJSON(size/2, size)
		if mine, _ := json.Marshal(c); string(mine) != text {
			t.Fatalf("marshal:\n%s\n%s", mine, text)
		}
		if err := c.Verify(); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := l.ProveInclusion(10, CurrentSize)
	bad := p
	bad.Root[0] ^= 1
	wantCode(t, bad.Verify(), ErrVerificationFailed)
	bad = p
	bad.Path = bad.Path[1:]
	wantCode(t, bad.Verify(), ErrVerificationFailed) // well formed, one hash short
	bad = p
	bad.Index = 11
	wantCode(t, bad.Verify(), ErrOutOfRange)
	wantCode(t, VerifyInclusionJSON([]byte(`{"hash":"md5"}`), nil, nil), ErrMalformed)
	c, _ := l.ProveConsistency(3, CurrentSize)
	badc := c
	badc.OldRoot[31] ^= 1
	wantCode(t, badc.Verify(), ErrVerificationFailed)
	wantCode(t, VerifyConsistencyJSON([]byte(`[]`), nil), ErrMalformed)
	_, err := l.ProveInclusion(11, CurrentSize)
	wantCode(t, err, ErrOutOfRange)
	_, err = l.ProveConsistency(5, 4)
	wantCode(t, err, ErrOutOfRange)
	_, err = l.ProveConsistency(1, 12)
	wantCode(t, err, ErrOutOfRange)

	// Checkpoints.
	note5, err := l.Checkpoint(signer, 5)
	if err != nil {
		t.Fatal(err)
	}
	note, err := l.Checkpoint(signer, CurrentSize)
	if err != nil || !strings.HasPrefix(note, "example.com/go/proofs\n11\n") {
		t.Fatalf("Checkpoint = %q, %v", note, err)
	}
	_, err = l.Checkpoint(signer, 12)
	wantCode(t, err, ErrOutOfRange)
	info, err := VerifyCheckpoint(note, signer.VerifierKey())
	root, _ := l.Root()
	if err != nil || info.Origin != "example.com/go/proofs" || info.Size != 11 || info.Root != root || len(info.Extensions) != 0 {
		t.Fatalf("VerifyCheckpoint = %+v, %v", info, err)
	}
	_, err = VerifyCheckpoint(note, other.VerifierKey())
	wantCode(t, err, ErrVerificationFailed)
	_, err = VerifyCheckpoint(note, "junk")
	wantCode(t, err, ErrMalformed)
	_, err = VerifyCheckpoint(strings.Replace(note, "\n11\n", "\n12\n", 1), signer.VerifierKey())
	wantCode(t, err, ErrVerificationFailed)
	list, err := l.Checkpoints()
	if err != nil || len(list) != 2 || list[0].Size != 5 || list[0].Note != note5 || list[1].Note != note ||
		list[1].VerifierKey != signer.VerifierKey() {
		t.Fatalf("Checkpoints = %+v, %v", list, err)
	}

	trusted := &SignedCheckpoint{Note: note, VerifierKey: signer.VerifierKey()}
	old := &SignedCheckpoint{Note: note5, VerifierKey: signer.VerifierKey()}
	leaf, _ := l.Get(10)
	if err := VerifyInclusion(p, leaf, trusted); err != nil {
		t.Fatal(err)
	}
	wantCode(t, VerifyInclusion(p, leaf, old), ErrVerificationFailed)
	wantCode(t, VerifyInclusion(p, nil, &SignedCheckpoint{Note: note, VerifierKey: other.VerifierKey()}), ErrVerificationFailed)
	c5, _ := l.ProveConsistency(5, CurrentSize)
	if err := VerifyConsistency(c5, trusted); err != nil {
		t.Fatal(err)
	}
	if err := VerifyConsistency(c5, old); err != nil {
		t.Fatal(err)
	}
	c23, _ := l.ProveConsistency(2, 3)
	wantCode(t, VerifyConsistency(c23, trusted), ErrVerificationFailed)

	// Whole-ledger verification. Node hashes are stored a complete 64-leaf tile at a time:
	// under 64 entries there are none to compare (the recomputed root is checked instead).
	report, err := l.Verify(VerifyOptions{})
	if err != nil || !report.OK || report.Size != 11 || report.Root != root || report.CheckpointsChecked != 2 ||
		report.ConsistentWithCheckpoint != nil || report.NodesChecked != 0 {
		t.Fatalf("Verify = %+v, %v", report, err)
	}
	// Under 64 entries, every entry is in the query indexes' unindexed tail (queries read
	// those entries directly): no stored postings to check yet. By default only the
	// indexes' structure is checked.
	if report.PostingsChecked != 0 || report.IndexesChecked {
		t.Fatalf("Verify postings = %+v", report)
	}
	deep, err := l.Verify(VerifyOptions{Indexes: true})
	if err != nil || !deep.IndexesChecked || deep.PostingsChecked != report.PostingsChecked ||
		deep.Size != 11 || deep.Root != root || deep.ConsistentWithCheckpoint != nil {
		t.Fatalf("Verify Indexes = %+v, %v", deep, err)
	}
	var calls int
	var last [2]uint64
	report, err = l.Verify(VerifyOptions{Against: old, Indexes: true, Progress: func(done, total uint64) {
		calls++
		last = [2]uint64{done, total}
	}})
	if err != nil || report.ConsistentWithCheckpoint == nil || *report.ConsistentWithCheckpoint != 5 ||
		!report.IndexesChecked {
		t.Fatalf("Verify against = %+v, %v", report, err)
	}
	if calls == 0 || last != [2]uint64{11, 11} {
		t.Fatalf("progress: %d calls, last %v", calls, last)
	}
	_, err = l.Verify(VerifyOptions{Against: &SignedCheckpoint{Note: note}})
	wantCode(t, err, ErrMalformed)
	_, err = l.Verify(VerifyOptions{Against: &SignedCheckpoint{Note: note, VerifierKey: other.VerifierKey()}})
	wantCode(t, err, ErrVerificationFailed)
	// A panic in the progress callback comes back out of Verify, in this goroutine.
	func() {
		defer func() {
			if r := recover(); r != "stop" {
				t.Fatalf("recovered %v", r)
			}
		}()
		l.Verify(VerifyOptions{Progress: func(uint64, uint64) { panic("stop") }})
		t.Fatal("no panic")
	}()
	if _, err := l.Size(); err != nil {
		t.Fatal("ledger unusable after a callback panic:", err)
	}
}

func TestTamperedAndInconsistent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.redb")
	l, err := Create(path, CreateOptions{Origin: "example.com/go/tamper", Hash: SHA256})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		l.Append(entry("alice", "deploy.succeeded", fmt.Sprintf("tamper-me-%d", i)))
	}
	signer, _ := GenerateSigner("example.com/go/tamper")
	defer signer.Close()
	note, _ := l.Checkpoint(signer, CurrentSize)
	trusted := &SignedCheckpoint{Note: note, VerifierKey: signer.VerifierKey()}

	fork := mustCreate(t, "fork.redb", CreateOptions{Origin: "example.com/go/tamper", Hash: SHA256})
	for i := 0; i < 6; i++ {
		fork.Append(entry("mallory", "deploy.succeeded", "x"))
	}
	_, err = fork.Verify(VerifyOptions{Against: trusted})
	wantCode(t, err, ErrInconsistent)
	empty := mustCreate(t, "empty.redb", CreateOptions{Origin: "example.com/go/tamper", Hash: SHA256})
	_, err = empty.Verify(VerifyOptions{Against: trusted})
	wantCode(t, err, ErrInconsistent)

	l.Close()
	data, _ := os.ReadFile(path)
	if bytes.Count(data, []byte("tamper-me-1")) == 0 {
		t.Fatal("entry not found in the file")
	}
	os.WriteFile(path, bytes.ReplaceAll(data, []byte("tamper-me-1"), []byte("tamper-mE-1")), 0o600)
	l, err = Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = l.Verify(VerifyOptions{})
	wantCode(t, err, ErrTampered)
	// Under 64 leaves no leaf hash is stored (tiles are stored complete): the leaves hash to
	// another root, and the message names the range.
	if !strings.Contains(err.Error(), "one of leaves 0..") {
		t.Errorf("message %q does not name the leaves", err)
	}
	_, err = l.Verify(VerifyOptions{Against: trusted})
	wantCode(t, err, ErrTampered)
}

// Goroutines move between threads between cgo calls; each error must still carry its own
// call's message, and concurrent appends through one handle must all land.
func TestConcurrency(t *testing.T) {
	l := mustCreate(t, "conc.redb", CreateOptions{Durability: NotDurableUntilSync})
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := l.Append(entry("worker", "job.done", fmt.Sprintf("%d-%d", g, i))); err != nil {
					errs <- err
				}
				want := uint64(1_000_000 + g*1000 + i)
				_, err := l.Get(want)
				if !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), fmt.Sprint(want)) {
					errs <- fmt.Errorf("Get(%d): %v", want, err)
				}
				_, err = ParseSigner(fmt.Sprintf("PRIVATE+KEY+g%d", g))
				if !errors.Is(err, ErrMalformed) {
					errs <- fmt.Errorf("ParseSigner: %v", err)
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, _ := l.Size(); n != 160 {
		t.Fatalf("size %d", n)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Verify(VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestHashText(t *testing.T) {
	h, err := ParseHash(strings.Repeat("ab", 32))
	if err != nil || h[0] != 0xab || h.String() != strings.Repeat("ab", 32) {
		t.Fatal(h, err)
	}
	for _, bad := range []string{"", "ab", strings.Repeat("zz", 32)} {
		_, err := ParseHash(bad)
		wantCode(t, err, ErrMalformed)
	}
	var p InclusionProof
	if err := json.Unmarshal([]byte(`{"hash":"sha256","index":0,"tree_size":1,"leaf_hash":"00","root":"","path":[]}`), &p); err == nil {
		t.Fatal("short hashes accepted")
	}
	text, _ := json.Marshal(InclusionProof{Hash: SHA256})
	if !strings.HasSuffix(string(text), `"path":[]}`) {
		t.Fatalf("nil path marshals as %s", text)
	}
	text, _ = json.Marshal(ConsistencyProof{Hash: SHA256})
	if !strings.HasSuffix(string(text), `"path":[]}`) {
		t.Fatalf("nil path marshals as %s", text)
	}
	c, err := CanonicalJSON(map[string]any{"b": 1.0, "a": []any{"é", 2e3}})
	if err != nil || string(c) != `{"a":["é",2000],"b":1}` {
		t.Fatalf("CanonicalJSON = %s, %v", c, err)
	}
	_, err = CanonicalJSON(`{"a":1,"a":2}`)
	wantCode(t, err, ErrMalformed)
	_, err = LeafHash("md5", nil)
	wantCode(t, err, ErrInvalidArgument)
}
