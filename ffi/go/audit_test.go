package trailseal

// The auditor's questions of issue 6 asked of the example delivery history
// (examples/history.sh), with the exact answers core/tests/audit.rs expects.

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const historyOrigin = "example.com/payments/audit"

// historyEntries are the entries examples/history.sh records: every line starting with '{'.
func historyEntries(t *testing.T) []json.RawMessage {
	t.Helper()
	text, err := os.ReadFile("../../examples/history.sh")
	if err != nil {
		t.Fatal(err)
	}
	var out []json.RawMessage
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, "{") {
			out = append(out, json.RawMessage(line))
		}
	}
	if len(out) != 27 {
		t.Fatalf("%d history entries, want 27", len(out))
	}
	return out
}

func historyLedger(t *testing.T, hash HashAlg) *Ledger {
	t.Helper()
	l := mustCreate(t, "history.redb", CreateOptions{Origin: historyOrigin, Hash: hash})
	rs, err := l.AppendBatch(historyEntries(t))
	if err != nil || len(rs) != 27 {
		t.Fatalf("AppendBatch = %d receipts, %v", len(rs), err)
	}
	return l
}

func historySigner(t *testing.T) *Signer {
	t.Helper()
	s, err := SignerFromSeed(historyOrigin, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func examplePolicy(t *testing.T) []byte {
	t.Helper()
	text, err := os.ReadFile("../../examples/release-gate.json")
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func indexesOf(found []Found) []uint64 {
	out := []uint64{}
	for _, f := range found {
		out = append(out, f.Index)
	}
	return out
}

func u64s(v ...uint64) []uint64 {
	if v == nil {
		return []uint64{}
	}
	return v
}

func TestAuditQuery(t *testing.T) {
	l := historyLedger(t, SHA256)
	env := map[string]string{"env": "prod"}
	for _, c := range []struct {
		q    Query
		want []uint64
	}{
		{Query{Subject: "service:payments-api"}, u64s(22, 19, 18, 9)},
		{Query{Actor: "alice"}, u64s(25, 24, 20, 14, 10)},
		{Query{Via: "alice"}, u64s(21, 11)},
		{Query{Decision: "break_glass"}, u64s(22)},
		{Query{Refs: []string{"git:4f2a9c1"}, Order: OldestFirst}, u64s(11, 14)},
		{Query{Action: "deploy.succeeded", Attrs: env, Order: OldestFirst}, u64s(9, 18, 22)},
		{Query{Action: "approval.granted", Subject: "release:2026.11.3", Order: OldestFirst}, u64s(15, 16, 17)},
		{Query{LinksTo: func() *uint64 { i := uint64(14); return &i }()}, u64s(18, 17, 16, 15)},
		{Query{Policy: "release-two-person", Actor: "deploy-bot"}, u64s(18, 9)},
		// "In Q3": everything was recorded just now, so a window in the past holds nothing.
		{Query{Decision: "break_glass", Until: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)}, u64s()},
		{Query{Decision: "break_glass", Since: time.Now().Add(-time.Hour)}, u64s(22)},
		{Query{Actor: "nobody"}, u64s()},
	} {
		page, err := l.Query(c.q)
		if err != nil {
			t.Fatalf("Query(%+v): %v", c.q, err)
		}
		if got := indexesOf(page.Entries); !reflect.DeepEqual(got, c.want) || page.NextCursor != "" {
			t.Errorf("Query(%+v) = %v (cursor %q), want %v", c.q, got, page.NextCursor, c.want)
		}
	}

	// Pages: the approvals, three at a time, newest first.
	q := Query{Action: "approval.granted", Limit: 3}
	var pages [][]uint64
	var cursors []string
	for {
		page, err := l.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, indexesOf(page.Entries))
		cursors = append(cursors, page.NextCursor)
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	if want := [][]uint64{{26, 25, 17}, {16, 15, 8}, {7, 1}}; !reflect.DeepEqual(pages, want) ||
		!reflect.DeepEqual(cursors, []string{"17", "8", ""}) {
		t.Errorf("pages %v cursors %q", pages, cursors)
	}

	// Entries come back as recorded.
	page, err := l.Query(Query{Decision: "break_glass"})
	if err != nil {
		t.Fatal(err)
	}
	e := page.Entries[0].Entry
	recorded, _ := l.GetEntry(22)
	if !reflect.DeepEqual(e, recorded) || e.V != 1 || len(e.Time) != 30 || e.Authz.Decision != "break_glass" ||
		!reflect.DeepEqual(e.Actor.Via, []string{"carol"}) || e.Attrs["release"] != "2026.11.4" {
		t.Errorf("entry %+v", e)
	}

	// The JSON form round-trips, and is what the library reads.
	q = Query{Actor: "alice", Subject: "release:2026.11.4", Since: time.Date(2026, 11, 10, 1, 0, 0, 5, time.FixedZone("", 3600)),
		Order: OldestFirst, Limit: 5}
	text, _ := json.Marshal(q)
	if string(text) != `{"actor":"alice","subject":"release:2026.11.4","order":"oldest","limit":5,"since":"2026-11-10T00:00:00.000000005Z"}` {
		t.Errorf("Query JSON %s", text)
	}
	var back Query
	if err := json.Unmarshal(text, &back); err != nil || !back.Since.Equal(q.Since) || back.Actor != "alice" || back.Limit != 5 {
		t.Errorf("round trip %+v, %v", back, err)
	}
	if text, _ := json.Marshal(Page{}); string(text) != `{"entries":[],"next_cursor":null}` {
		t.Errorf("Page JSON %s", text)
	}
	for sel, want := range map[*Selection]string{
		ptr(SelectSubject("release:1")):        `{"subject":"release:1"}`,
		ptr(SelectTrace(0, false)):             `{"index":0}`,
		ptr(SelectTrace(18, true)):             `{"forward":true,"index":18}`,
		ptr(SelectIndexes()):                   `{"indexes":[]}`,
		ptr(SelectIndexes(3, 1)):               `{"indexes":[3,1]}`,
		ptr(SelectQuery(Query{Action: "a.b"})): `{"query":{"action":"a.b"}}`,
		ptr(Selection{}):                       `{}`,
	} {
		if text, _ := json.Marshal(sel); string(text) != want {
			t.Errorf("Selection JSON %s, want %s", text, want)
		}
	}

	// Refused filters.
	for _, bad := range []Query{
		{Subject: "no-colon"}, {Cursor: "not-a-cursor"}, {Order: "sideways"},
		{Since: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		_, err := l.Query(bad)
		wantCode(t, err, ErrMalformed)
	}
	raw := mustCreate(t, "raw.redb", CreateOptions{Raw: true})
	_, err = raw.Query(Query{})
	wantCode(t, err, ErrWrongKind)
	_, err = raw.Trace(0, false)
	wantCode(t, err, ErrWrongKind)
	l.Close()
	if _, err := l.Query(Query{}); !errors.Is(err, ErrClosed) {
		t.Errorf("closed: %v", err)
	}
}

func TestAuditTraceAndWhy(t *testing.T) {
	l := historyLedger(t, SHA256)
	tr, err := l.Trace(18, false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint64][]uint64{}
	var order []uint64
	for _, n := range tr.Nodes {
		got[n.Index] = n.Links
		order = append(order, n.Index)
		if n.Entry.Action == "" {
			t.Errorf("node %d without its entry", n.Index)
		}
	}
	want := map[uint64][]uint64{
		0: {}, 10: {}, 11: {10}, 14: {10, 11}, 16: {0, 14}, 17: {0, 14}, 18: {0, 11, 14, 16, 17},
	}
	if tr.Root != 18 || !reflect.DeepEqual(got, want) || !reflect.DeepEqual(order, []uint64{0, 10, 11, 14, 16, 17, 18}) ||
		!reflect.DeepEqual(tr.Unresolved, []string{"ci:https://ci.example.com/runs/981"}) {
		t.Errorf("Trace(18) = root %d, %v, unresolved %q", tr.Root, got, tr.Unresolved)
	}
	if tr.Nodes[2].Entry.ID != "ci:run/981" || tr.Nodes[1].Entry.ID != "git:4f2a9c1" {
		t.Errorf("trace entries %+v", tr.Nodes[:3])
	}
	fwd, err := l.Trace(10, true)
	if err != nil {
		t.Fatal(err)
	}
	var reached []uint64
	for _, n := range fwd.Nodes {
		reached = append(reached, n.Index)
	}
	if !reflect.DeepEqual(reached, []uint64{10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 22, 24, 25, 26}) ||
		len(fwd.Unresolved) != 0 {
		t.Errorf("Trace(10, forward) reached %v, unresolved %q", reached, fwd.Unresolved)
	}

	w, err := l.Why(18)
	if err != nil {
		t.Fatal(err)
	}
	var gate struct {
		Gate GatePolicy `json:"gate"`
	}
	if w.Index != 18 || w.Entry.Action != "deploy.succeeded" || w.Authz == nil || w.Authz.PolicyVersion != "7" ||
		w.Policy == nil || w.Policy.Index != 0 || !reflect.DeepEqual(indexesOf(w.Approvals), []uint64{1}) ||
		w.Approvals[0].Entry.Actor.ID != "dana" {
		t.Fatalf("Why(18) = %+v", w)
	}
	if err := json.Unmarshal(w.Policy.Entry.Payload, &gate); err != nil || gate.Gate.MinApprovals != 2 {
		t.Errorf("the policy in force says %+v, %v", gate, err)
	}
	bg, err := l.Why(22)
	if err != nil || bg.Authz == nil || bg.Authz.Decision != "break_glass" || bg.Policy != nil || len(bg.Approvals) != 0 {
		t.Errorf("Why(22) = %+v, %v", bg, err)
	}
	_, err = l.Trace(27, false)
	wantCode(t, err, ErrOutOfRange)
	_, err = l.Why(27)
	wantCode(t, err, ErrOutOfRange)
}

func req(name string, met bool, evidence ...uint64) GateRequirement {
	return GateRequirement{Name: name, Met: met, Evidence: u64s(evidence...)}
}

func TestAuditGate(t *testing.T) {
	l := historyLedger(t, SHA256)
	file := examplePolicy(t)
	var policy GatePolicy
	if err := json.Unmarshal(file, &policy); err != nil {
		t.Fatal(err)
	}
	if want := (GatePolicy{MinApprovals: 2, ApproverRoles: []string{"release-manager", "sre"},
		Require: []string{"test.passed", "scan.passed"}}); !reflect.DeepEqual(policy, want) {
		t.Fatalf("the example policy reads as %+v", policy)
	}
	if text, _ := json.Marshal(policy); string(text) !=
		`{"min_approvals":2,"approver_roles":["release-manager","sre"],"forbid_self_approval":true,"require":["test.passed","scan.passed"]}` {
		t.Errorf("GatePolicy JSON %s", text)
	}
	wantResults := map[string]GateResult{
		"release:2026.11.2": {true, []GateRequirement{req("min_approvals", true, 7, 8),
			req("forbid_self_approval", true, 2, 3, 6), req("test.passed", true, 4), req("scan.passed", true, 5)}},
		// dave (a developer) approved too: his approval does not count, and is no violation.
		"release:2026.11.3": {true, []GateRequirement{req("min_approvals", true, 16, 17),
			req("forbid_self_approval", true, 10, 11, 14), req("test.passed", true, 12), req("scan.passed", true, 13)}},
		// alice requested 2026.11.4 and approved it herself; nobody scanned it.
		"release:2026.11.4": {false, []GateRequirement{req("min_approvals", false, 26),
			req("forbid_self_approval", false, 20, 21, 24, 25), req("test.passed", true, 23), req("scan.passed", false)}},
	}
	for subject, want := range wantResults {
		for _, p := range []any{policy, &policy, file, string(file), json.RawMessage(file)} {
			got, err := l.Gate(subject, p)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("Gate(%s, %T) = %+v, %v; want %+v", subject, p, got, err, want)
			}
		}
	}

	three := GatePolicy{MinApprovals: 3, ApproverRoles: []string{"release-manager", "sre"}}
	if got, _ := l.Gate("release:2026.11.2", three); got.Passed ||
		!reflect.DeepEqual(got.Requirements[0], req("min_approvals", false, 7, 8)) {
		t.Errorf("three approvals: %+v", got)
	}
	rm := GatePolicy{MinApprovals: 2, ApproverRoles: []string{"release-manager"}}
	if got, _ := l.Gate("release:2026.11.3", rm); !reflect.DeepEqual(got, GateResult{false,
		[]GateRequirement{req("min_approvals", false, 16), req("forbid_self_approval", true, 10, 11, 14)}}) {
		t.Errorf("release managers only: %+v", got)
	}
	lax := GatePolicy{MinApprovals: 2, ApproverRoles: []string{"release-manager"}, AllowSelfApproval: true,
		Require: []string{"test.passed"}}
	if got, _ := l.Gate("release:2026.11.4", lax); !reflect.DeepEqual(got, GateResult{true,
		[]GateRequirement{req("min_approvals", true, 25, 26), req("test.passed", true, 23)}}) {
		t.Errorf("self-approval allowed: %+v", got)
	}
	if got, _ := l.Gate("release:1999.1.1", policy); got.Passed || len(got.Requirements) != 4 {
		t.Errorf("an unknown release: %+v", got)
	}

	for _, bad := range []any{`{"min_approval": 2}`, `{"min_approvals": 1, "min_approvals": 2}`,
		GatePolicy{AllowSelfApproval: true}, `[]`, nil} {
		_, err := l.Gate("release:2026.11.2", bad)
		wantCode(t, err, ErrMalformed)
	}
	_, err := l.Gate("no-colon", policy)
	wantCode(t, err, ErrMalformed)
	var p GatePolicy
	if err := json.Unmarshal([]byte(`{"min_approval": 2}`), &p); err == nil {
		t.Error("an unknown policy field was accepted")
	}
	if err := json.Unmarshal([]byte(`{"min_approvals": 1, "forbid_self_approval": false}`), &p); err != nil ||
		!p.AllowSelfApproval || p.MinApprovals != 1 {
		t.Errorf("%+v, %v", p, err)
	}
}

func TestAuditRecordGate(t *testing.T) {
	l := historyLedger(t, Blake3)
	policy := examplePolicy(t)
	var digest string
	for i, subject := range []string{"release:2026.11.4", "release:2026.11.3"} {
		before, err := l.Gate(subject, policy)
		if err != nil {
			t.Fatal(err)
		}
		result, receipt, err := l.RecordGate(subject, policy, "release-gate-bot")
		if err != nil || !reflect.DeepEqual(result, before) || receipt.Index != uint64(27+i) || receipt.TreeSize != uint64(28+i) {
			t.Fatalf("RecordGate(%s) = %+v, %+v, %v", subject, result, receipt, err)
		}
		e, err := l.GetEntry(receipt.Index)
		if err != nil {
			t.Fatal(err)
		}
		action := map[bool]string{true: "gate.passed", false: "gate.failed"}[before.Passed]
		if e.Action != action || e.Actor.ID != "release-gate-bot" || "release:"+e.Subject.ID != subject ||
			!strings.HasPrefix(e.Attrs["policy_digest"], "sha256:") {
			t.Errorf("recorded %+v", e)
		}
		digest = e.Attrs["policy_digest"]
		var links, want []string
		for _, k := range e.Links {
			links = append(links, k.Rel+"#"+jsonString(*k.Index))
		}
		for _, r := range before.Requirements {
			for _, i := range r.Evidence {
				want = append(want, r.Name+"#"+jsonString(i))
			}
		}
		if !reflect.DeepEqual(links, want) {
			t.Errorf("links %v, want %v", links, want)
		}
		var payload struct {
			Policy GatePolicy `json:"policy"`
			Result GateResult `json:"result"`
		}
		if err := json.Unmarshal(e.Payload, &payload); err != nil || !reflect.DeepEqual(payload.Result, before) ||
			payload.Policy.MinApprovals != 2 {
			t.Errorf("payload %+v, %v", payload, err)
		}
		// The gate entry judges the change rather than being part of it.
		if again, _ := l.Gate(subject, policy); !reflect.DeepEqual(again, before) {
			t.Errorf("after recording: %+v", again)
		}
	}
	page, _ := l.Query(Query{Attrs: map[string]string{"policy_digest": digest}, Order: OldestFirst})
	if got := indexesOf(page.Entries); !reflect.DeepEqual(got, []uint64{27, 28}) {
		t.Errorf("the recorded verdicts: %v", got)
	}
	_, _, err := l.RecordGate("release:2026.11.3", policy, "")
	wantCode(t, err, ErrInvalidEntry)
	_, _, err = l.RecordGate("release:2026.11.3", `{"forbid_self_approval": false}`, "bot")
	wantCode(t, err, ErrMalformed)
	_, _, err = l.RecordGate("nope", policy, "bot")
	wantCode(t, err, ErrMalformed)
	_, _, err = l.RecordGate("release:2026.11.3", policy, "a\x00b")
	wantCode(t, err, ErrInvalidEntry)
	if n, _ := l.Size(); n != 29 {
		t.Errorf("refused records wrote something: size %d", n)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func bundleIndexes(t *testing.T, bundle []byte, vkey string) []uint64 {
	t.Helper()
	r, err := VerifyBundle(bundle, vkey)
	if err != nil {
		t.Fatalf("VerifyBundle: %v", err)
	}
	return indexesOf(r.Entries)
}

func TestAuditBundles(t *testing.T) {
	l := historyLedger(t, SHA256)
	s := historySigner(t)
	vkey := s.VerifierKey()

	b, err := l.Bundle(SelectSubject("release:2026.11.3"), s)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := l.RootAt(27)
	r, err := VerifyBundle(b, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Origin != historyOrigin || r.KeyName != historyOrigin || r.Hash != SHA256 || r.TreeSize != 27 ||
		r.Root != root || !reflect.DeepEqual(indexesOf(r.Entries), []uint64{12, 13, 14, 15, 16, 17}) ||
		r.Entries[2].Entry.Action != "release.requested" {
		t.Fatalf("VerifyBundle = %+v", r)
	}
	// Each entry is in the file as its exact leaf bytes.
	for _, f := range r.Entries {
		leaf, _ := l.Get(f.Index)
		if !bytes.Contains(b, append(append([]byte(`      "entry": `), leaf...), '\n')) {
			t.Errorf("entry %d is not in the bundle verbatim", f.Index)
		}
	}
	if !bytes.HasPrefix(b, []byte("{\n  \"format\": \"trailseal-bundle/1\",\n")) || !bytes.HasSuffix(b, []byte("}\n")) {
		t.Errorf("bundle text:\n%s", b)
	}
	// The bundle's checkpoint is kept in the ledger.
	cps, _ := l.Checkpoints()
	if len(cps) != 1 || cps[0].Size != 27 || !strings.Contains(string(b), jsonString(cps[0].Note)) {
		t.Errorf("checkpoints %+v", cps)
	}

	for _, c := range []struct {
		sel  Selection
		want []uint64
	}{
		{SelectTrace(18, false), []uint64{0, 10, 11, 14, 16, 17, 18}},
		{SelectTrace(19, true), []uint64{19, 22, 24, 25, 26}},
		{SelectQuery(Query{Action: "deploy.succeeded"}), []uint64{9, 18, 22}},
		{SelectQuery(Query{Action: "deploy.succeeded", Limit: 1}), []uint64{22}},
		{SelectIndexes(26, 3), []uint64{3, 26}},
	} {
		b, err := l.Bundle(c.sel, s)
		if err != nil {
			t.Fatalf("Bundle(%+v): %v", c.sel, err)
		}
		if got := bundleIndexes(t, b, vkey); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Bundle(%+v) holds %v, want %v", c.sel, got, c.want)
		}
	}

	// Against a checkpoint signed earlier, at size 20.
	note, _ := l.Checkpoint(s, 20)
	cp := SignedCheckpoint{Note: note, VerifierKey: vkey}
	early, err := l.BundleWithCheckpoint(SelectIndexes(3, 19), cp)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := VerifyBundle(early, vkey); err != nil || r.TreeSize != 20 || !reflect.DeepEqual(indexesOf(r.Entries), []uint64{3, 19}) {
		t.Errorf("early bundle %+v, %v", r, err)
	}
	_, err = l.BundleWithCheckpoint(SelectIndexes(22), cp)
	wantCode(t, err, ErrOutOfRange)
	other := mustCreate(t, "other.redb", CreateOptions{Origin: historyOrigin, Hash: SHA256})
	other.Append(entry("mallory", "deploy.succeeded", "x"))
	otherNote, _ := other.Checkpoint(s, CurrentSize)
	_, err = l.BundleWithCheckpoint(SelectIndexes(0), SignedCheckpoint{Note: otherNote, VerifierKey: vkey})
	wantCode(t, err, ErrInconsistent)
	stranger, _ := SignerFromSeed(historyOrigin, bytes.Repeat([]byte{8}, 32))
	defer stranger.Close()
	_, err = l.BundleWithCheckpoint(SelectIndexes(0), SignedCheckpoint{Note: note, VerifierKey: stranger.VerifierKey()})
	wantCode(t, err, ErrVerificationFailed)

	// Refused selections.
	for _, c := range []struct {
		sel  Selection
		want *Error
	}{
		{SelectSubject("release:none"), ErrInvalidArgument},
		{SelectIndexes(), ErrInvalidArgument},
		{SelectIndexes(99), ErrOutOfRange},
		{SelectTrace(99, false), ErrOutOfRange},
		{Selection{}, ErrMalformed},
		{Selection{Subject: "release:2026.11.3", Indexes: []uint64{1}}, ErrMalformed},
		{Selection{Subject: "release:2026.11.3", Index: new(uint64)}, ErrMalformed},
		{SelectSubject("nocolon"), ErrMalformed},
		// A query with no filter would bundle every entry: refused, whatever else it holds.
		{SelectQuery(Query{}), ErrInvalidArgument},
		{SelectQuery(Query{Cursor: "x"}), ErrInvalidArgument},
		{SelectQuery(Query{Actor: "alice", Cursor: "x"}), ErrMalformed},
	} {
		_, err := l.Bundle(c.sel, s)
		wantCode(t, err, c.want)
	}
	if _, err := l.Bundle(SelectIndexes(1), nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("nil signer: %v", err)
	}
	raw := mustCreate(t, "raw.redb", CreateOptions{Raw: true})
	raw.AppendRaw([]byte("opaque"))
	_, err = raw.Bundle(SelectIndexes(0), s)
	wantCode(t, err, ErrWrongKind)

	// Checked with the key alone: another key, or a key that does not parse, is refused.
	_, err = VerifyBundle(b, stranger.VerifierKey())
	wantCode(t, err, ErrVerificationFailed)
	_, err = VerifyBundle(b, "not a key")
	wantCode(t, err, ErrMalformed)
	_, err = VerifyBundle(nil, vkey)
	wantCode(t, err, ErrMalformed)
}

// Any one changed byte of a bundle, anywhere, fails verification.
func TestAuditBundleOneChangedByteIsRefused(t *testing.T) {
	l := historyLedger(t, SHA256)
	s := historySigner(t)
	vkey := s.VerifierKey()
	b, err := l.Bundle(SelectIndexes(23, 26), s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyBundle(b, vkey); err != nil {
		t.Fatal(err)
	}
	refused := func(m []byte, what string) {
		_, err := VerifyBundle(m, vkey)
		if !errors.Is(err, ErrVerificationFailed) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: %v", what, err)
		}
	}
	for at := range b {
		for _, flip := range []byte{0x01, 0x20} {
			m := bytes.Clone(b)
			m[at] ^= flip
			refused(m, "byte "+jsonString(at)+" ^ "+jsonString(flip))
		}
	}
	// One character of an entry, and characters the C string form would have hidden.
	i := bytes.Index(b, []byte(`"actor":{"id":"bob"`))
	if i < 0 {
		t.Fatal("no entry by bob in the bundle")
	}
	m := bytes.Clone(b)
	m[i+len(`"actor":{"id":"`)] = 'B'
	refused(m, "bob -> Bob")
	refused(append(bytes.Clone(b), 0), "a NUL byte after the end")
	refused(append(bytes.Clone(b), "\x00{}"...), "text after a NUL byte")
	refused(b[:len(b)-1], "the final newline removed")
}

func TestAuditReport(t *testing.T) {
	l := historyLedger(t, SHA256)
	r, err := l.Report(ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want Report
	if err := json.Unmarshal([]byte(`{
		"since": null,
		"approval_latency": {"waits": 7, "median_seconds": 5400, "p90_seconds": 86400},
		"waits": [
			{"subject": "release:2026.11.2", "request": 6, "approval": 7, "approver": "bob", "seconds": 3600},
			{"subject": "release:2026.11.2", "request": 6, "approval": 8, "approver": "carol", "seconds": 10800},
			{"subject": "release:2026.11.3", "request": 14, "approval": 15, "approver": "dave", "seconds": 1200},
			{"subject": "release:2026.11.3", "request": 14, "approval": 16, "approver": "bob", "seconds": 5400},
			{"subject": "release:2026.11.3", "request": 14, "approval": 17, "approver": "carol", "seconds": 86400},
			{"subject": "release:2026.11.4", "request": 24, "approval": 25, "approver": "alice", "seconds": 1800},
			{"subject": "release:2026.11.4", "request": 24, "approval": 26, "approver": "bob", "seconds": 14400}
		],
		"approvals_by_approver": [
			{"approver": "bob", "approvals": 3}, {"approver": "carol", "approvals": 2},
			{"approver": "alice", "approvals": 1}, {"approver": "dana", "approvals": 1},
			{"approver": "dave", "approvals": 1}
		],
		"weeks": [
			{"week": "2026-W44", "changes": 0, "break_glass": 0, "approvals": 1},
			{"week": "2026-W45", "changes": 1, "break_glass": 0, "approvals": 2},
			{"week": "2026-W46", "changes": 2, "break_glass": 1, "approvals": 3},
			{"week": "2026-W47", "changes": 0, "break_glass": 0, "approvals": 2}
		]}`), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, want) {
		got, _ := json.Marshal(r)
		t.Fatalf("Report = %s", got)
	}
	if *r.ApprovalLatency.MedianSeconds != 5400 || r.Waits[4].Seconds != 86400 {
		t.Error("figures")
	}

	since := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	recent, err := l.Report(ReportOptions{Since: since})
	if err != nil {
		t.Fatal(err)
	}
	if recent.Since == nil || !recent.Since.Equal(since) || *recent.ApprovalLatency.MedianSeconds != 14400 ||
		*recent.ApprovalLatency.P90Seconds != 86400 ||
		!reflect.DeepEqual(recent.ApprovalsByApprover, []ApproverCount{{"alice", 1}, {"bob", 1}, {"carol", 1}}) ||
		!reflect.DeepEqual(recent.Weeks, []Week{{"2026-W46", 2, 1, 1}, {"2026-W47", 0, 0, 2}}) {
		t.Errorf("since %v: %+v", since, recent)
	}
	withRollbacks, err := l.Report(ReportOptions{ChangeActions: []string{"deploy.succeeded", "deploy.rolled_back"}})
	if err != nil || withRollbacks.Weeks[2].Changes != 3 {
		t.Errorf("rollbacks as changes: %+v, %v", withRollbacks.Weeks, err)
	}
	late, _ := l.Report(ReportOptions{Since: time.Date(2026, 11, 9, 11, 0, 0, 0, time.UTC)})
	if late.ApprovalLatency.Waits != 4 || *late.ApprovalLatency.MedianSeconds != (5400+14400)/2 {
		t.Errorf("an even number of waits: %+v", late.ApprovalLatency)
	}
	none, _ := l.Report(ReportOptions{Since: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	if none.ApprovalLatency.MedianSeconds != nil || none.ApprovalLatency.P90Seconds != nil || len(none.Waits) != 0 {
		t.Errorf("nothing since 2030: %+v", none)
	}
	_, err = l.Report(ReportOptions{Since: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	wantCode(t, err, ErrMalformed)
}

// The command and the Go package answer the same questions about the same ledger with the
// same JSON, and check each other's bundles.
func TestAuditMatchesTheCommand(t *testing.T) {
	cli := cliPath(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "history.redb")
	run(t, cli, nil, "init", path, "--origin", historyOrigin, "--hash", "sha256")
	run(t, "bash", nil, "../../examples/history.sh", cli, path)
	vkey := strings.TrimSpace(run(t, cli, nil, "vkey", path))
	cliBundle := filepath.Join(dir, "cli.bundle")
	run(t, cli, nil, "bundle", path, "--subject", "release:2026.11.3", "-o", cliBundle)
	gateJSON := run(t, cli, nil, "gate", path, "--subject", "release:2026.11.3", "--policy", "../../examples/release-gate.json", "--json")
	traceJSON := run(t, cli, nil, "trace", path, "18", "--json")
	whyJSON := run(t, cli, nil, "why", path, "18", "--json")
	reportJSON := run(t, cli, nil, "report", path, "--json")
	queryJSON := run(t, cli, nil, "query", path, "--actor", "alice", "--json")

	b, _ := os.ReadFile(cliBundle)
	if got := bundleIndexes(t, b, vkey); !reflect.DeepEqual(got, []uint64{12, 13, 14, 15, 16, 17}) {
		t.Errorf("the command's bundle holds %v", got)
	}

	l, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	same := func(what, cliText string, v any) {
		t.Helper()
		var a, b any
		mine, _ := json.Marshal(v)
		json.Unmarshal([]byte(cliText), &a)
		json.Unmarshal(mine, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s differs:\ncommand %s\nGo      %s", what, cliText, mine)
		}
	}
	g, _ := l.Gate("release:2026.11.3", examplePolicy(t))
	same("gate", gateJSON, g)
	tr, _ := l.Trace(18, false)
	same("trace", traceJSON, tr)
	w, _ := l.Why(18)
	same("why", whyJSON, w)
	r, _ := l.Report(ReportOptions{})
	same("report", reportJSON, r)
	page, _ := l.Query(Query{Actor: "alice"})
	lines := strings.Split(strings.TrimSpace(queryJSON), "\n")
	if len(lines) != len(page.Entries) {
		t.Fatalf("query: %d lines, %d entries", len(lines), len(page.Entries))
	}
	for i, line := range lines {
		same("query line", line, page.Entries[i])
	}

	// A Go-made bundle, checked by the command; with one character changed, refused.
	signer, err := ParseSigner(string(must(os.ReadFile(path + ".key"))))
	if err != nil {
		t.Fatal(err)
	}
	defer signer.Close()
	mine, err := l.Bundle(SelectTrace(18, false), signer)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	goBundle := filepath.Join(dir, "go.bundle")
	os.WriteFile(goBundle, mine, 0o644)
	out := run(t, cli, nil, "verify-bundle", goBundle, "--vkey", vkey, "--json")
	if !strings.Contains(out, `"ok":true`) || !strings.Contains(out, `"tree_size":27`) {
		t.Errorf("verify-bundle: %s", out)
	}
	changed := bytes.Replace(mine, []byte(`"id":"deploy-bot"`), []byte(`"id":"deploy-b0t"`), 1)
	if bytes.Equal(changed, mine) {
		t.Fatal("nothing changed")
	}
	os.WriteFile(goBundle, changed, 0o644)
	cmd := exec.Command(cli, "verify-bundle", goBundle, "--vkey", vkey)
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Errorf("verify-bundle of a changed bundle: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
