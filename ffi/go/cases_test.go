package trailseal

// The shared case table (tests/vectors/cases.json, format in tests/vectors/README.md),
// replayed through the Go package: every front end answers each row the same.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// casesSkip lists the rows the Go API cannot express, each with the reason. Queries and
// selections are structs, so a misspelt or mistyped key is a compile error in Go, not a
// refusal by the library; an outside checkpoint is one *SignedCheckpoint, so half of one
// cannot be passed. A row whose arguments do not survive the typed API and is not listed
// here fails the test.
var casesSkip = map[string]string{
	"query: an unknown filter is refused":                         "Query is a struct: no field to misspell",
	"query: a filter of the wrong type":                           "Query.Actor is a string",
	"bundle: an unknown key":                                      "Selection is a struct: no field to misspell",
	"bundle: an unknown query filter":                             "Query is a struct: no field to misspell",
	"bundle: a negative index":                                    "Selection.Indexes is []uint64",
	"bundle: a trace, forward false":                              "Forward false is Go's zero value, never written: the row \"a trace backward\" is that call",
	"bundle: an index that is not a number":                       "Selection.Index is *uint64",
	"verify_inclusion: a checkpoint without its key":              "SignedCheckpoint holds both halves or is nil",
	"verify_inclusion: a key without its checkpoint":              "SignedCheckpoint holds both halves or is nil",
	"verify_consistency: a checkpoint without its key":            "SignedCheckpoint holds both halves or is nil",
	"verify_consistency: a key without its checkpoint":            "SignedCheckpoint holds both halves or is nil",
	"verify: a checkpoint without its key":                        "SignedCheckpoint holds both halves or is nil",
	"verify: a key without its checkpoint":                        "SignedCheckpoint holds both halves or is nil",
	"report: a since that is not RFC 3339 is refused":             "ReportOptions.Since is a time.Time",
	"query: an occurred_since that is not RFC 3339":               "Query.OccurredSince is a time.Time",
	"retention: a plan at a time that is not RFC 3339 is refused": "RetentionPlan takes a time.Time",
	"prune: a time that is not RFC 3339 is refused":               "Prune takes a time.Time",
	"prune: a ledger with committed indexes is refused":           "CreateOptions has no committed indexes option",
}

type caseRow struct {
	Name   string                     `json:"name"`
	Call   string                     `json:"call"`
	Args   map[string]json.RawMessage `json:"args"`
	Expect json.RawMessage            `json:"expect"`
}

type caseTable struct {
	Fixture struct {
		Origin    string            `json:"origin"`
		Hash      HashAlg           `json:"hash"`
		SignerKey string            `json:"signer_key"`
		Entries   []json.RawMessage `json:"entries"`
		RawLeaves []string          `json:"raw_leaves"`
	} `json:"fixture"`
	Cases []caseRow `json:"cases"`
}

type caseFixture struct {
	entries, raw *Ledger
	signer       *Signer
	// What an "open" row's new ledger is created with, and the fixture's first entry.
	create CreateOptions
	first  json.RawMessage
	dir    string
	opened int
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// typed decodes text into v and reports whether v writes the same JSON back: whether the
// typed API can say what the row says.
func typed(text []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	if dec.Decode(v) != nil {
		return false
	}
	back, err := json.Marshal(v)
	return err == nil && sameJSON(text, back)
}

// errNotTyped marks a row whose arguments the typed API cannot express.
var errNotTyped = errors.New("not expressible in the Go API")

func str(a map[string]json.RawMessage, key string) (string, bool) {
	raw, ok := a[key]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// outside is the row's checkpoint: nil for none; errNotTyped for half of one.
func outside(a map[string]json.RawMessage) (*SignedCheckpoint, error) {
	note, hasNote := str(a, "checkpoint")
	vkey, hasKey := str(a, "verifier_key")
	switch {
	case !hasNote && !hasKey:
		return nil, nil
	case hasNote && hasKey:
		return &SignedCheckpoint{Note: note, VerifierKey: vkey}, nil
	}
	return nil, errNotTyped
}

func runCase(fx *caseFixture, call string, a map[string]json.RawMessage) (any, error) {
	switch call {
	case "query":
		var q Query
		if !typed(a["filter"], &q) {
			return nil, errNotTyped
		}
		page, err := fx.entries.Query(q)
		if err != nil {
			return nil, err
		}
		ix := []uint64{}
		for _, f := range page.Entries {
			ix = append(ix, f.Index)
		}
		return map[string]any{"indexes": ix}, nil
	case "bundle":
		var sel Selection
		if !typed(a["selection"], &sel) {
			return nil, errNotTyped
		}
		text, err := fx.entries.Bundle(sel, fx.signer)
		if err != nil {
			return nil, err
		}
		var b struct {
			Entries []struct {
				Index uint64 `json:"index"`
			} `json:"entries"`
		}
		if err := json.Unmarshal(text, &b); err != nil {
			return nil, err
		}
		ix := []uint64{}
		for _, e := range b.Entries {
			ix = append(ix, e.Index)
		}
		return map[string]any{"indexes": ix}, nil
	case "gate":
		subject, _ := str(a, "subject")
		r, err := fx.entries.Gate(subject, a["policy"])
		if err != nil {
			return nil, err
		}
		missed := []string{}
		for _, q := range r.Requirements {
			if !q.Met {
				missed = append(missed, q.Name)
			}
		}
		return map[string]any{"passed": r.Passed, "missed": missed}, nil
	case "report":
		var opts ReportOptions
		if since, ok := str(a, "since"); ok {
			t, err := time.Parse(time.RFC3339Nano, since)
			if err != nil {
				return nil, errNotTyped
			}
			opts.Since = t
		}
		if raw, ok := a["change_actions"]; ok {
			if err := json.Unmarshal(raw, &opts.ChangeActions); err != nil {
				return nil, err
			}
		}
		r, err := fx.entries.Report(opts)
		if err != nil {
			return nil, err
		}
		text, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(text, &m); err != nil {
			return nil, err
		}
		// Go writes a time in its own RFC 3339 spelling; the core writes nine digits.
		if r.Since != nil {
			m["since"] = r.Since.UTC().Format("2006-01-02T15:04:05.000000000Z")
		}
		return m, nil
	case "verify":
		cp, err := outside(a)
		if err != nil {
			return nil, err
		}
		r, err := fx.raw.Verify(VerifyOptions{Against: cp})
		if err != nil {
			return nil, err
		}
		return map[string]any{"size": r.Size, "consistent_with_checkpoint": r.ConsistentWithCheckpoint}, nil
	case "verify_inclusion":
		cp, err := outside(a)
		if err != nil {
			return nil, err
		}
		var leaf []byte
		if s, ok := str(a, "leaf"); ok {
			leaf = []byte(s)
		}
		return map[string]any{}, VerifyInclusionJSON(a["proof"], leaf, cp)
	case "verify_consistency":
		cp, err := outside(a)
		if err != nil {
			return nil, err
		}
		return map[string]any{}, VerifyConsistencyJSON(a["proof"], cp)
	case "verify_cosigned":
		var keys []string
		if err := json.Unmarshal(a["witness_keys"], &keys); err != nil {
			return nil, err
		}
		quorum := -1
		if raw, ok := a["quorum"]; ok {
			if err := json.Unmarshal(raw, &quorum); err != nil {
				return nil, err
			}
		}
		note, _ := str(a, "note")
		vkey, _ := str(a, "verifier_key")
		c, err := VerifyCosigned(note, vkey, keys, quorum)
		if err != nil {
			return nil, err
		}
		names := []string{}
		for _, w := range c.Cosignatures {
			names = append(names, w.Witness)
		}
		return map[string]any{"size": c.Checkpoint.Size, "witnesses": names}, nil
	case "verify_timestamp_token":
		tokenHex, _ := str(a, "token_hex")
		token, err := hex.DecodeString(tokenHex)
		if err != nil {
			return nil, err
		}
		note, _ := str(a, "note")
		ca, _ := str(a, "ca_pem")
		return VerifyTimestampToken(token, []byte(note), ca)
	case "open":
		return openCase(fx, a)
	case "rules":
		return rulesCase(fx, a)
	case "retention":
		return retentionCase(fx, a)
	case "erase":
		return eraseCase(fx, a)
	case "check_opening":
		c, _ := str(a, "commitment")
		salt, _ := str(a, "salt")
		return nil, CheckOpening(c, salt, a["value"])
	case "prune":
		return pruneCase(fx, a)
	case "rules_check":
		return CheckRules(a["document"], a["entry"])
	case "delivery_report":
		var threshold *float64
		if raw, ok := a["threshold"]; ok {
			threshold = new(float64)
			if err := json.Unmarshal(raw, threshold); err != nil {
				return nil, err
			}
		}
		return fx.entries.DeliveryReport(threshold)
	}
	return nil, errors.New("unknown call " + call)
}

// eraseCase runs an "erase" row: a new ledger with the row's personal fields holding its
// entries (and holds), erased as the row selects; the report, what each index in "read" reads
// as ({"actor", "erased", "sealed"}: an erased entry's actor is null, its commitment salted
// afresh in every run) and the size after.
func eraseCase(fx *caseFixture, a map[string]json.RawMessage) (any, error) {
	fx.opened++
	opts := fx.create
	if err := json.Unmarshal(a["personal"], &opts.Personal); err != nil {
		return nil, err
	}
	l, err := Create(filepath.Join(fx.dir, fmt.Sprintf("erase-%d.redb", fx.opened)), opts)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	actor, _ := str(a, "actor")
	authz := a["authz"]
	var entries []json.RawMessage
	if err := json.Unmarshal(a["entries"], &entries); err != nil {
		return nil, err
	}
	if _, err := l.AppendBatch(entries); err != nil {
		return nil, err
	}
	if err := applyHolds(l, a, actor, authz); err != nil {
		return nil, err
	}
	reason, _ := str(a, "reason")
	basis, _ := str(a, "legal_basis")
	var dry bool
	if raw, ok := a["dry_run"]; ok {
		if err := json.Unmarshal(raw, &dry); err != nil {
			return nil, err
		}
	}
	report, err := l.Erase(a["select"], reason, actor, authz, EraseOptions{LegalBasis: basis, DryRun: dry})
	if err != nil {
		return nil, err
	}
	var read []uint64
	if err := json.Unmarshal(a["read"], &read); err != nil {
		return nil, err
	}
	reads := []any{}
	for _, i := range read {
		raw, err := l.Get(i)
		if err != nil {
			return nil, err
		}
		var e struct {
			Actor  struct{ ID string } `json:"actor"`
			Erased *struct {
				By uint64 `json:"by"`
			} `json:"erased"`
			Sealed []string `json:"sealed"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, err
		}
		r := map[string]any{"actor": e.Actor.ID, "erased": nil, "sealed": e.Sealed}
		if e.Erased != nil {
			r["actor"], r["erased"] = nil, e.Erased.By
		}
		if e.Sealed == nil {
			r["sealed"] = nil
		}
		reads = append(reads, r)
	}
	size, err := l.Size()
	if err != nil {
		return nil, err
	}
	return map[string]any{"report": report, "reads": reads, "size": size}, nil
}

// retentionCase runs a "retention" row: a new ledger, the retention rules published (if
// given), the entries appended, each hold placed or released in turn, then the plan at "at".
func retentionCase(fx *caseFixture, a map[string]json.RawMessage) (any, error) {
	fx.opened++
	l, err := Create(filepath.Join(fx.dir, fmt.Sprintf("retention-%d.redb", fx.opened)), fx.create)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	actor, _ := str(a, "actor")
	authz := a["authz"]
	if doc, ok := a["document"]; ok {
		if _, err := l.PublishRetentionRules(doc, actor, authz); err != nil {
			return nil, err
		}
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(a["entries"], &entries); err != nil {
		return nil, err
	}
	if _, err := l.AppendBatch(entries); err != nil {
		return nil, err
	}
	if err := applyHolds(l, a, actor, authz); err != nil {
		return nil, err
	}
	atText, _ := str(a, "at")
	at, err := time.Parse(time.RFC3339, atText)
	if err != nil {
		return nil, errNotTyped
	}
	plan, err := l.RetentionPlan(at)
	if err != nil {
		return nil, err
	}
	holds, err := l.LegalHolds()
	if err != nil {
		return nil, err
	}
	if holds == nil {
		holds = []LegalHold{}
	}
	var version any
	if v, err := l.RetentionRulesAt(CurrentSize); err != nil {
		return nil, err
	} else if v != nil {
		version = v.Version
	}
	return map[string]any{"version": version, "holds": holds, "plan": plan}, nil
}

// applyHolds places or releases each hold step of a row's "holds" in turn.
func applyHolds(l *Ledger, a map[string]json.RawMessage, actor string, authz json.RawMessage) error {
	var steps []struct {
		Place   string          `json:"place"`
		Release string          `json:"release"`
		Covers  json.RawMessage `json:"covers"`
	}
	if raw, ok := a["holds"]; ok {
		if err := json.Unmarshal(raw, &steps); err != nil {
			return err
		}
	}
	for _, step := range steps {
		var err error
		if step.Place != "" {
			_, err = l.PlaceHold(step.Place, step.Covers, actor, authz)
		} else {
			_, err = l.ReleaseHold(step.Release, actor, authz)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// pruneCase runs a "prune" row: a new ledger, the retention rules published, the entries
// appended (copies times, then "then"), each hold placed or released, pruned at "at"; then a
// read of each index of "read".
func pruneCase(fx *caseFixture, a map[string]json.RawMessage) (any, error) {
	fx.opened++
	l, err := Create(filepath.Join(fx.dir, fmt.Sprintf("prune-%d.redb", fx.opened)), fx.create)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	actor, _ := str(a, "actor")
	authz := a["authz"]
	if _, err := l.PublishRetentionRules(a["document"], actor, authz); err != nil {
		return nil, err
	}
	var entries, then []json.RawMessage
	if err := json.Unmarshal(a["entries"], &entries); err != nil {
		return nil, err
	}
	copies := 1
	if raw, ok := a["copies"]; ok {
		if err := json.Unmarshal(raw, &copies); err != nil {
			return nil, err
		}
	}
	var batch []json.RawMessage
	for n := 0; n < copies; n++ {
		batch = append(batch, entries...)
	}
	if _, err := l.AppendBatch(batch); err != nil {
		return nil, err
	}
	if raw, ok := a["then"]; ok {
		if err := json.Unmarshal(raw, &then); err != nil {
			return nil, err
		}
		if _, err := l.AppendBatch(then); err != nil {
			return nil, err
		}
	}
	if err := applyHolds(l, a, actor, authz); err != nil {
		return nil, err
	}
	atText, _ := str(a, "at")
	at, err := time.Parse(time.RFC3339, atText)
	if err != nil {
		return nil, errNotTyped
	}
	r, err := l.Prune(at, flag(a, "dry_run", false), actor, authz)
	if err != nil {
		return nil, err
	}
	var read []uint64
	if raw, ok := a["read"]; ok {
		if err := json.Unmarshal(raw, &read); err != nil {
			return nil, err
		}
	}
	reads := []any{}
	for _, i := range read {
		e, err := l.Get(i)
		var te *Error
		switch {
		case errors.As(err, &te):
			reads = append(reads, map[string]any{"index": i, "error": te.Code.String(), "message": prunedMessage(te.Message)})
		case err != nil:
			return nil, err
		default:
			var entry struct {
				Action string `json:"action"`
			}
			if err := json.Unmarshal(e, &entry); err != nil {
				return nil, err
			}
			reads = append(reads, map[string]any{"index": i, "action": entry.Action})
		}
	}
	if r.Pruned == nil {
		r.Pruned = [][2]uint64{}
	}
	return map[string]any{"count": r.Count, "pruned": r.Pruned, "records": len(r.Records), "kept": r.Kept, "reads": reads}, nil
}

// prunedMessage is a read error's message as a prune row gives it: from its first "entry ",
// the time after "pruned on " and the 64 hex digits after "leaf hash " replaced by TIME and
// HASH.
func prunedMessage(m string) string {
	if at := strings.Index(m, "entry "); at >= 0 {
		m = m[at:]
	}
	if at := strings.Index(m, "pruned on "); at >= 0 {
		start := at + len("pruned on ")
		end := strings.Index(m[start:], " ")
		rest := ""
		if end >= 0 {
			rest = m[start+end:]
		}
		m = m[:start] + "TIME" + rest
	}
	if at := strings.Index(m, "leaf hash "); at >= 0 {
		start := at + len("leaf hash ")
		end := start + 64
		if end > len(m) {
			end = len(m)
		}
		m = m[:start] + "HASH" + m[end:]
	}
	return m
}

// rulesCase runs a "rules" row: a new ledger, the document published, then each entry
// appended alone; each entry's index or error code, the size after and the version in force.
func rulesCase(fx *caseFixture, a map[string]json.RawMessage) (any, error) {
	fx.opened++
	l, err := Create(filepath.Join(fx.dir, fmt.Sprintf("rules-%d.redb", fx.opened)), fx.create)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	if err := l.SetRecordRefusals(flag(a, "record_refusals", false)); err != nil {
		return nil, err
	}
	publisher, _ := str(a, "publisher")
	if _, err := l.PublishRules(a["document"], publisher, nil, nil); err != nil {
		return nil, err
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(a["entries"], &entries); err != nil {
		return nil, err
	}
	results := []any{}
	for _, e := range entries {
		r, err := l.Append(e)
		var te *Error
		switch {
		case err == nil:
			results = append(results, r.Index)
		case errors.As(err, &te):
			results = append(results, te.Code.String())
		default:
			return nil, err
		}
	}
	size, err := l.Size()
	if err != nil {
		return nil, err
	}
	var version any
	if v, err := l.RulesAt(CurrentSize); err != nil {
		return nil, err
	} else if v != nil {
		version = v.Version
	}
	return map[string]any{"results": results, "size": size, "version": version}, nil
}

// flag is the row's boolean at key, or absent when the row leaves it out.
func flag(a map[string]json.RawMessage, key string, absent bool) bool {
	v := absent
	if raw, ok := a[key]; ok {
		_ = json.Unmarshal(raw, &v)
	}
	return v
}

// openCase runs an "open" row: a new ledger holding the fixture's first entry, opened as the
// row says, then the first entry appended again or every entry queried through the new handle.
func openCase(fx *caseFixture, a map[string]json.RawMessage) (any, error) {
	fx.opened++
	path := filepath.Join(fx.dir, fmt.Sprintf("open-%d.redb", fx.opened))
	made, err := Create(path, fx.create)
	if err != nil {
		return nil, err
	}
	_, err = made.Append(fx.first)
	made.Close()
	if err != nil {
		return nil, err
	}
	var opts OpenOptions
	if share, ok := str(a, "share"); ok {
		opts.Share = Sharing(share)
	}
	opts.ReadOnly = flag(a, "read_only", false)
	if !flag(a, "durable", true) {
		opts.Durability = NotDurableUntilSync
	}
	l, err := Open(path, opts)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	indexes := []uint64{}
	if then, _ := str(a, "then"); then == "append" {
		r, err := l.Append(fx.first)
		if err != nil {
			return nil, err
		}
		indexes = append(indexes, r.Index)
	} else {
		page, err := l.Query(Query{})
		if err != nil {
			return nil, err
		}
		for _, f := range page.Entries {
			indexes = append(indexes, f.Index)
		}
	}
	info, err := l.Info()
	if err != nil {
		return nil, err
	}
	return map[string]any{"sharing": info.Sharing, "read_only": info.ReadOnly, "indexes": indexes}, nil
}

func TestCaseTable(t *testing.T) {
	var table caseTable
	readVectors(t, "cases.json", &table)
	f := table.Fixture
	dir := t.TempDir()
	entries, err := Create(filepath.Join(dir, "entries.redb"), CreateOptions{Origin: f.Origin, Hash: f.Hash})
	if err != nil {
		t.Fatal(err)
	}
	defer entries.Close()
	if _, err := entries.AppendBatch(f.Entries); err != nil {
		t.Fatal(err)
	}
	raw, err := Create(filepath.Join(dir, "raw.redb"), CreateOptions{Origin: f.Origin, Hash: f.Hash, Raw: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var leaves [][]byte
	for _, l := range f.RawLeaves {
		leaves = append(leaves, []byte(l))
	}
	if _, err := raw.AppendRawBatch(leaves); err != nil {
		t.Fatal(err)
	}
	signer, err := ParseSigner(f.SignerKey)
	if err != nil {
		t.Fatal(err)
	}
	defer signer.Close()
	fx := &caseFixture{entries: entries, raw: raw, signer: signer,
		create: CreateOptions{Origin: f.Origin, Hash: f.Hash}, first: f.Entries[0], dir: dir}

	names := map[string]bool{}
	for _, row := range table.Cases {
		names[row.Name] = true
	}
	for name := range casesSkip {
		if !names[name] {
			t.Errorf("casesSkip names no row: %s", name)
		}
	}
	for _, row := range table.Cases {
		t.Run(row.Name, func(t *testing.T) {
			if why, ok := casesSkip[row.Name]; ok {
				t.Skip(why)
			}
			result, err := runCase(fx, row.Call, row.Args)
			var got any
			var e *Error
			switch {
			case errors.Is(err, errNotTyped):
				t.Fatal("the typed API cannot express this row, and it is not in casesSkip")
			case errors.As(err, &e):
				got = map[string]any{"error": e.Code.String()}
			case err != nil:
				t.Fatal(err)
			default:
				got = map[string]any{"ok": result}
			}
			text, _ := json.Marshal(got)
			if !sameJSON(text, row.Expect) {
				t.Errorf("got %s, want %s", text, row.Expect)
			}
		})
	}
}
