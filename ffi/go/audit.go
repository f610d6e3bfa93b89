package trailseal

// #include <stdlib.h>
// #include <stdint.h>
// #include <trailseal.h>
import "C"

import (
	"bytes"
	"encoding/json"
	"runtime"
	"time"
	"unsafe"
)

// The auditor's questions: Query, Trace, Why, Gate, RecordGate, Bundle, VerifyBundle and
// Report. Each is one C call; the types below marshal and unmarshal the JSON the C library
// (and `trailseal ... --json`) uses.

// Order is the order of a query's results.
type Order string

// The orders; "" means NewestFirst.
const (
	NewestFirst Order = "newest"
	OldestFirst Order = "oldest"
)

// Query is a search over the ledger's indexes: every filter that is set must hold (AND).
// The zero Query matches every entry, newest first, 100 per page.
type Query struct {
	Actor    string            `json:"actor,omitempty"`    // actor.id equals
	Via      string            `json:"via,omitempty"`      // actor.via contains
	Action   string            `json:"action,omitempty"`   // action equals
	Subject  string            `json:"subject,omitempty"`  // "TYPE:ID", split at the first colon
	Attrs    map[string]string `json:"attrs,omitempty"`    // each pair is among attrs
	Refs     []string          `json:"refs,omitempty"`     // each external ref is among links
	Decision string            `json:"decision,omitempty"` // authz.decision, e.g. "break_glass"
	Policy   string            `json:"policy,omitempty"`   // authz.policy
	LinksTo  *uint64           `json:"links_to,omitempty"` // links to this earlier entry
	Since    time.Time         `json:"-"`                  // recorded at or after (zero: no bound)
	Until    time.Time         `json:"-"`                  // recorded before (zero: no bound)
	// occurred_at (when the source says it happened, not when recorded) at or after, and
	// before (zero: no bound); entries without occurred_at never match either
	OccurredSince time.Time `json:"-"`
	OccurredUntil time.Time `json:"-"`
	Order         Order     `json:"order,omitempty"`
	Limit         int       `json:"limit,omitempty"`  // entries per page; 0 for 100
	Cursor        string    `json:"cursor,omitempty"` // Page.NextCursor of the previous page
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// MarshalJSON writes the query's JSON form (since/until, occurred_since/occurred_until as
// RFC 3339).
func (q Query) MarshalJSON() ([]byte, error) {
	type plain Query
	return json.Marshal(struct {
		plain
		Since         string `json:"since,omitempty"`
		Until         string `json:"until,omitempty"`
		OccurredSince string `json:"occurred_since,omitempty"`
		OccurredUntil string `json:"occurred_until,omitempty"`
	}{plain(q), timeText(q.Since), timeText(q.Until), timeText(q.OccurredSince), timeText(q.OccurredUntil)})
}

// UnmarshalJSON reads the query's JSON form.
func (q *Query) UnmarshalJSON(data []byte) error {
	type plain Query
	var v struct {
		*plain
		Since         *time.Time `json:"since"`
		Until         *time.Time `json:"until"`
		OccurredSince *time.Time `json:"occurred_since"`
		OccurredUntil *time.Time `json:"occurred_until"`
	}
	v.plain = (*plain)(q)
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if v.Since != nil {
		q.Since = *v.Since
	}
	if v.Until != nil {
		q.Until = *v.Until
	}
	if v.OccurredSince != nil {
		q.OccurredSince = *v.OccurredSince
	}
	if v.OccurredUntil != nil {
		q.OccurredUntil = *v.OccurredUntil
	}
	return nil
}

// Found is one entry a query, trace or bundle holds: its index and the entry as recorded.
type Found struct {
	Index uint64 `json:"index"`
	Entry Entry  `json:"entry"`
}

// Page is one page of query results.
type Page struct {
	Entries []Found `json:"entries"` // in the query's order
	// Set Query.Cursor to it (with the same filters) for the next page; "" on the last page.
	NextCursor string `json:"next_cursor"`
}

// MarshalJSON writes {"entries": [...], "next_cursor": "..." | null}.
func (p Page) MarshalJSON() ([]byte, error) {
	var cursor *string
	if p.NextCursor != "" {
		cursor = &p.NextCursor
	}
	entries := p.Entries
	if entries == nil {
		entries = []Found{}
	}
	return json.Marshal(struct {
		Entries    []Found `json:"entries"`
		NextCursor *string `json:"next_cursor"`
	}{entries, cursor})
}

// TraceNode is one entry of a trace and the entries it leads to in the trace's direction.
type TraceNode struct {
	Index uint64   `json:"index"`
	Entry Entry    `json:"entry"`
	Links []uint64 `json:"links"` // what it rests on (backward) or what rests on it (forward)
}

// Trace is the graph of entries reachable from one entry through links.
type Trace struct {
	Root       uint64      `json:"root"`
	Nodes      []TraceNode `json:"nodes"`      // in index order, root included
	Unresolved []string    `json:"unresolved"` // external refs no entry carries or is named by
}

// Why is which rule allowed an entry, what it said then, and who approved that version.
type Why struct {
	Index     uint64  `json:"index"`
	Entry     Entry   `json:"entry"`
	Authz     *Authz  `json:"authz"`     // the entry's authz, if any
	Policy    *Found  `json:"policy"`    // the policy.published entry in force, if any
	Approvals []Found `json:"approvals"` // approval.granted entries of that policy version
}

// GatePolicy is a release gate policy (the JSON file form; see the core's trailseal::gate
// for the rules). The zero value forbids self-approval, as a policy file does unless it says
// "forbid_self_approval": false.
type GatePolicy struct {
	MinApprovals      uint64   // distinct approvers needed (0: no approval requirement)
	ApproverRoles     []string // roles (actor.role) whose approvals count; empty: any
	AllowSelfApproval bool     // JSON "forbid_self_approval": !AllowSelfApproval
	Require           []string // actions that must be recorded on the subject, e.g. "test.passed"
}

type gatePolicyJSON struct {
	MinApprovals       uint64   `json:"min_approvals"`
	ApproverRoles      []string `json:"approver_roles"`
	ForbidSelfApproval *bool    `json:"forbid_self_approval"`
	Require            []string `json:"require"`
}

// MarshalJSON writes the normalized policy file: every field, in the file's order.
func (p GatePolicy) MarshalJSON() ([]byte, error) {
	forbid := !p.AllowSelfApproval
	v := gatePolicyJSON{p.MinApprovals, p.ApproverRoles, &forbid, p.Require}
	if v.ApproverRoles == nil {
		v.ApproverRoles = []string{}
	}
	if v.Require == nil {
		v.Require = []string{}
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads a policy file; as in the library, an unknown field is an error (a typo
// must not weaken a gate) and forbid_self_approval defaults to true. The library checks the
// rest (Gate and RecordGate also take the file's text as it is).
func (p *GatePolicy) UnmarshalJSON(data []byte) error {
	var v gatePolicyJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	*p = GatePolicy{
		MinApprovals:      v.MinApprovals,
		ApproverRoles:     v.ApproverRoles,
		AllowSelfApproval: v.ForbidSelfApproval != nil && !*v.ForbidSelfApproval,
		Require:           v.Require,
	}
	return nil
}

// GateRequirement is one requirement of a gate and its outcome.
type GateRequirement struct {
	Name     string   `json:"name"`     // "min_approvals", "forbid_self_approval", or a required action
	Met      bool     `json:"met"`      // whether it holds
	Evidence []uint64 `json:"evidence"` // the entries that show it, ascending
}

// GateResult is the outcome of a release gate.
type GateResult struct {
	Passed       bool              `json:"passed"`       // every requirement met
	Requirements []GateRequirement `json:"requirements"` // min_approvals, forbid_self_approval, then each of Require
}

// Selection says which entries a bundle holds, in the core's selection form (the same in
// every binding): set exactly one of Subject, Query, Index (a trace, with Forward) or Indexes,
// or use the Select functions.
type Selection struct {
	Subject string  `json:"subject,omitempty"` // every entry on this subject, "TYPE:ID"
	Query   *Query  `json:"query,omitempty"`   // every match (or, with Limit > 0, the first page)
	Index   *uint64 `json:"index,omitempty"`   // the entries of the trace from this index
	Forward bool    `json:"forward,omitempty"` // with Index: follow links forward
	// With Index: follow links at most this many hops; a trace it would cut is refused.
	Depth *uint64 `json:"depth,omitempty"`
	// With Index: follow git history too (the parent links between imported commits).
	Ancestry bool     `json:"ancestry,omitempty"`
	Indexes  []uint64 `json:"indexes,omitempty"` // these entries
}

// SelectSubject selects every entry on subject ("TYPE:ID").
func SelectSubject(subject string) Selection { return Selection{Subject: subject} }

// SelectQuery selects every entry q matches (its pages followed, up to 10,000), or with
// q.Limit > 0 the first page.
func SelectQuery(q Query) Selection { return Selection{Query: &q} }

// SelectTrace selects the entries of the trace from index (see Ledger.Trace).
func SelectTrace(index uint64, forward bool) Selection {
	return Selection{Index: &index, Forward: forward}
}

// SelectIndexes selects these entries.
func SelectIndexes(indexes ...uint64) Selection {
	if indexes == nil {
		indexes = []uint64{}
	}
	return Selection{Indexes: indexes}
}

// MarshalJSON writes the fields that are set (the library refuses anything but exactly one
// selection). Indexes is written whenever it is non-nil, so an empty list reaches the library
// (which refuses it: nothing to bundle).
func (s Selection) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if s.Subject != "" {
		m["subject"] = s.Subject
	}
	if s.Query != nil {
		m["query"] = s.Query
	}
	if s.Index != nil {
		m["index"] = *s.Index
	}
	if s.Forward {
		m["forward"] = true
	}
	if s.Depth != nil {
		m["depth"] = *s.Depth
	}
	if s.Ancestry {
		m["ancestry"] = true
	}
	if s.Indexes != nil {
		m["indexes"] = s.Indexes
	}
	return json.Marshal(m)
}

// BundleReport is what VerifyBundle proved.
type BundleReport struct {
	OK       bool    `json:"ok"`
	Origin   string  `json:"origin"` // the log; checking it is the one expected is the caller's job
	Hash     HashAlg `json:"hash"`
	TreeSize uint64  `json:"tree_size"` // of the checkpoint every proof is against
	Root     Hash    `json:"root"`
	KeyName  string  `json:"key_name"` // the key that signed the checkpoint
	Entries  []Found `json:"entries"`  // each proven to be in the log at its index
	// What the bundle's time-stamp token attests (VerifyBundleWithTSA only).
	Attested *AttestedTime `json:"attested,omitempty"`
}

// ReportOptions are the options of Ledger.Report; the zero value reports on everything.
type ReportOptions struct {
	Since         time.Time // only entries at or after this time (zero: all)
	ChangeActions []string  // actions counted as changes; nil for the default, deploy.succeeded
}

// ApprovalLatency is the request-to-grant summary; the seconds are nil without waits.
type ApprovalLatency struct {
	Waits         int      `json:"waits"`
	MedianSeconds *float64 `json:"median_seconds"`
	P90Seconds    *float64 `json:"p90_seconds"` // nearest-rank 90th percentile
}

// Wait is one approval and the request it answered.
type Wait struct {
	Subject  string  `json:"subject"`  // "TYPE:ID"
	Request  uint64  `json:"request"`  // index of the *.requested entry
	Approval uint64  `json:"approval"` // index of the approval.granted entry
	Approver string  `json:"approver"`
	Seconds  float64 `json:"seconds"`
}

// ApproverCount is one approver's number of approvals.
type ApproverCount struct {
	Approver  string `json:"approver"`
	Approvals uint64 `json:"approvals"`
}

// Week is one ISO 8601 week's counts.
type Week struct {
	Week       string `json:"week"` // e.g. "2026-W46"
	Changes    uint64 `json:"changes"`
	BreakGlass uint64 `json:"break_glass"`
	Approvals  uint64 `json:"approvals"`
}

// Report is where approvals wait (the JSON of `trailseal report --json`; the figures are
// defined by the core's trailseal::report).
type Report struct {
	Since               *time.Time      `json:"since"` // the option it was made with, or nil
	ApprovalLatency     ApprovalLatency `json:"approval_latency"`
	Waits               []Wait          `json:"waits"`                 // in approval order
	ApprovalsByApprover []ApproverCount `json:"approvals_by_approver"` // most first, then by name
	Weeks               []Week          `json:"weeks"`                 // in order, only weeks with something
}

// ---- the calls ------------------------------------------------------------------------

// Query returns one page of the entries matching every filter of q (entry ledgers only;
// ErrWrongKind otherwise). It reads only the indexes of its filters and the entries it
// returns. A bad filter (a subject that is not TYPE:ID, an unknown cursor) is ErrMalformed.
func (l *Ledger) Query(q Query) (Page, error) {
	var page Page
	text, err := jsonText(q, "query")
	if err != nil {
		return page, err
	}
	ctext := C.CString(string(text))
	defer C.free(unsafe.Pointer(ctext))
	err = l.jsonCall(&page, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_query(h, ctext, out)
	})
	return page, err
}

// Trace returns what entry index rests on, transitively (its links, external refs resolved,
// and the policy version that allowed each entry), or with forward what rests on it.
// ErrOutOfRange past the end.
func (l *Ledger) Trace(index uint64, forward bool) (Trace, error) {
	var t Trace
	err := l.jsonCall(&t, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_trace(h, C.uint64_t(index), C.bool(forward), out)
	})
	return t, err
}

// Why returns which rule allowed entry index, what that rule said then, and who approved
// that version. ErrOutOfRange past the end.
func (l *Ledger) Why(index uint64) (Why, error) {
	var w Why
	err := l.jsonCall(&w, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_why(h, C.uint64_t(index), out)
	})
	return w, err
}

// gateArgs converts a subject and a policy: a GatePolicy (or anything json.Marshal turns
// into a policy object), or the policy file's JSON text ([]byte, json.RawMessage or string),
// which the library reads strictly.
func gateArgs(cs *cstrs, subject string, policy any) (csubject, cpolicy *C.char, err error) {
	if csubject, err = cs.add(subject, "subject", CodeMalformed); err != nil {
		return nil, nil, err
	}
	text, err := jsonText(policy, "gate policy")
	if err != nil {
		return nil, nil, err
	}
	if cpolicy, err = cs.add(string(text), "gate policy", CodeMalformed); err != nil {
		return nil, nil, err
	}
	return csubject, cpolicy, nil
}

// Gate evaluates a release gate for subject ("TYPE:ID", e.g. "release:2026.11.3"). policy
// is a GatePolicy or the JSON text of a policy file ([]byte, json.RawMessage or string). A
// gate that does not pass is not an error: read Passed. A policy with an unknown field or
// that requires nothing, or a subject that is not TYPE:ID, is ErrMalformed.
func (l *Ledger) Gate(subject string, policy any) (GateResult, error) {
	var r GateResult
	var cs cstrs
	defer cs.free()
	csubject, cpolicy, err := gateArgs(&cs, subject, policy)
	if err != nil {
		return r, err
	}
	err = l.jsonCall(&r, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_gate(h, csubject, cpolicy, out)
	})
	return r, err
}

// RecordGate evaluates the release gate for subject (as Gate) and records the outcome as a
// gate.passed / gate.failed entry by actor on the subject, linking its evidence and carrying
// the policy's digest (as `trailseal gate --record`). The gate is evaluated by the library
// in the same call, so the recorded verdict is the ledger's own. It returns the result (the
// recorded payload.result) and the entry's receipt.
func (l *Ledger) RecordGate(subject string, policy any, actor string) (GateResult, Receipt, error) {
	var r GateResult
	var receipt Receipt
	var cs cstrs
	defer cs.free()
	csubject, cpolicy, err := gateArgs(&cs, subject, policy)
	if err != nil {
		return r, receipt, err
	}
	cactor, err := cs.add(actor, "actor", CodeInvalidEntry)
	if err != nil {
		return r, receipt, err
	}
	err = l.with(func(h *C.trailseal_ledger) error {
		var result, rec *C.char
		if err := call(func() C.trailseal_status {
			return C.trailseal_ledger_record_gate(h, csubject, cpolicy, cactor, &result, &rec)
		}); err != nil {
			return err
		}
		errResult := takeJSON(result, &r)
		if err := takeJSON(rec, &receipt); err != nil {
			return err
		}
		return errResult
	})
	return r, receipt, err
}

// selectionText is the C string of a selection (free it with C.free).
func selectionText(sel Selection) (*C.char, error) {
	text, err := jsonText(sel, "selection")
	if err != nil {
		return nil, err
	}
	return C.CString(string(text)), nil
}

// Bundle writes an evidence bundle (docs/BUNDLE.md): the selected entries as recorded, each
// with its inclusion proof against a checkpoint of the current tree that it signs with s
// (and keeps in the ledger). The result is the bundle file's bytes; anyone can check it
// with VerifyBundle (or `trailseal verify-bundle`) and s.VerifierKey() alone. A selection
// of no entry is ErrInvalidArgument, an index past the end ErrOutOfRange.
func (l *Ledger) Bundle(sel Selection, s *Signer) ([]byte, error) {
	if s == nil {
		return nil, &Error{Code: CodeInvalidArgument, Message: "nil signer"}
	}
	csel, err := selectionText(sel)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(csel))
	var text string
	err = s.with(func(sh *C.trailseal_signer) error {
		var err error
		text, err = l.stringCall(func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
			return C.trailseal_ledger_bundle(h, csel, sh, out)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return []byte(text), nil
}

// BundleWithCheckpoint is Bundle against a checkpoint signed earlier (for example one a
// witness cosigned). It must verify with cp.VerifierKey, be a tree of this ledger
// (ErrInconsistent otherwise) and cover every selected entry (ErrOutOfRange otherwise).
func (l *Ledger) BundleWithCheckpoint(sel Selection, cp SignedCheckpoint) ([]byte, error) {
	var cs cstrs
	defer cs.free()
	note, vkey, err := checkpointArgs(&cs, &cp)
	if err != nil {
		return nil, err
	}
	csel, err := selectionText(sel)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(csel))
	text, err := l.stringCall(func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_bundle_with_checkpoint(h, csel, note, vkey, out)
	})
	if err != nil {
		return nil, err
	}
	return []byte(text), nil
}

// VerifyBundle checks an evidence bundle (the file's bytes) with nothing but the verifier
// key of its checkpoint's signer: its one canonical spelling, the checkpoint's signature,
// and every entry's leaf hash and inclusion proof. Any changed byte is ErrVerificationFailed
// or ErrMalformed; a key that does not parse is ErrMalformed.
func VerifyBundle(bundle []byte, verifierKey string) (BundleReport, error) {
	var r BundleReport
	vkey, err := cString(verifierKey, "verifier key", CodeMalformed)
	if err != nil {
		return r, err
	}
	defer C.free(unsafe.Pointer(vkey))
	var out *C.char
	err = call(func() C.trailseal_status {
		return C.trailseal_verify_bundle(bytesPtr(bundle), C.size_t(len(bundle)), vkey, &out)
	})
	runtime.KeepAlive(bundle)
	if err != nil {
		return r, err
	}
	return r, takeJSON(out, &r)
}

// Report returns where approvals wait: request-to-grant latency, approvals per approver, and
// changes and break-glass actions per ISO week.
func (l *Ledger) Report(opts ReportOptions) (Report, error) {
	var r Report
	var copts *C.char
	if !opts.Since.IsZero() || opts.ChangeActions != nil {
		text, err := jsonText(struct {
			Since         string   `json:"since,omitempty"`
			ChangeActions []string `json:"change_actions,omitempty"`
		}{timeText(opts.Since), opts.ChangeActions}, "report options")
		if err != nil {
			return r, err
		}
		copts = C.CString(string(text))
		defer C.free(unsafe.Pointer(copts))
	}
	err := l.jsonCall(&r, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_report(h, copts, out)
	})
	return r, err
}
