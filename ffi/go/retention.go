package trailseal

// #include <stdlib.h>
// #include <stdint.h>
// #include <trailseal.h>
import "C"

import (
	"encoding/json"
	"time"
)

// RetentionRulesVersion is a retention rules version as the ledger recorded it (SPEC
// section 8).
type RetentionRulesVersion struct {
	Index   uint64          `json:"index"` // of its retention.published entry; in force after it
	Version string          `json:"version"`
	Digest  string          `json:"digest"`
	Rules   json.RawMessage `json:"rules"` // the document
}

// LegalHold is a legal hold as recorded: what it covers is never pruned or erased while it
// is in force.
type LegalHold struct {
	ID       string          `json:"id"`
	Placed   uint64          `json:"placed"`   // index of its legal_hold.placed entry
	Released *uint64         `json:"released"` // index of the legal_hold.released entry, nil while in force
	Covers   json.RawMessage `json:"covers"`   // the query it covers, as recorded
}

// RetentionPlan is what retention allows at one time.
type RetentionPlan struct {
	At    string `json:"at"`
	Size  uint64 `json:"size"` // the tree size judged
	Rules *struct {
		Index   uint64 `json:"index"`
		Version string `json:"version"`
	} `json:"rules"` // the newest rules version, nil when none is recorded
	Eligible [][2]uint64       `json:"eligible"` // the entries that may go, as [start, end) ranges
	Counts   map[string]uint64 `json:"counts"`   // entries per verdict: eligible, protected, no_rule, in_retention, held, linked
	Pruned   uint64            `json:"pruned"`   // entries already pruned (not counted above)
}

// recordedBy converts the actor and authz every retention and hold entry carries.
func recordedBy(cs *cstrs, actor string, authz any) (*C.char, *C.char, error) {
	cactor, err := cs.add(actor, "actor", CodeInvalidEntry)
	if err != nil {
		return nil, nil, err
	}
	text, err := jsonText(authz, "authz")
	if err != nil {
		return nil, nil, err
	}
	cauthz, err := cs.add(string(text), "authz", CodeMalformed)
	return cactor, cauthz, err
}

// PublishRetentionRules records retention rules (SPEC section 8; a value or JSON text such as
// {"version": "sox-2026", "default": "P1Y", "rules": [{"action": "deploy.*", "keep": "P7Y"}]})
// as a retention.published entry by actor, authz saying why it was allowed ({"decision",
// "policy", "reason"?}); in force for every entry after it. Rules that do not parse are
// CodeMalformed.
func (l *Ledger) PublishRetentionRules(document any, actor string, authz any) (Receipt, error) {
	var r Receipt
	var cs cstrs
	defer cs.free()
	doc, err := jsonText(document, "retention rules")
	if err != nil {
		return r, err
	}
	cdoc, err := cs.add(string(doc), "retention rules", CodeMalformed)
	if err != nil {
		return r, err
	}
	cactor, cauthz, err := recordedBy(&cs, actor, authz)
	if err != nil {
		return r, err
	}
	err = l.jsonCall(&r, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_publish_retention_rules(h, cdoc, cactor, cauthz, out)
	})
	return r, err
}

// PlaceHold places legal hold id over what covers matches (a query value such as
// {"subject": "service:payments"}) by actor with authz. CodeInvalidArgument while a hold of
// that id is in force; CodeMalformed for a covers that names nothing.
func (l *Ledger) PlaceHold(id string, covers any, actor string, authz any) (Receipt, error) {
	var r Receipt
	var cs cstrs
	defer cs.free()
	cid, err := cs.add(id, "hold id", CodeInvalidArgument)
	if err != nil {
		return r, err
	}
	text, err := jsonText(covers, "covers")
	if err != nil {
		return r, err
	}
	ccovers, err := cs.add(string(text), "covers", CodeMalformed)
	if err != nil {
		return r, err
	}
	cactor, cauthz, err := recordedBy(&cs, actor, authz)
	if err != nil {
		return r, err
	}
	err = l.jsonCall(&r, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_place_hold(h, cid, ccovers, cactor, cauthz, out)
	})
	return r, err
}

// ReleaseHold releases legal hold id by actor with authz. CodeInvalidArgument when no hold of
// that id is in force.
func (l *Ledger) ReleaseHold(id, actor string, authz any) (Receipt, error) {
	var r Receipt
	var cs cstrs
	defer cs.free()
	cid, err := cs.add(id, "hold id", CodeInvalidArgument)
	if err != nil {
		return r, err
	}
	cactor, cauthz, err := recordedBy(&cs, actor, authz)
	if err != nil {
		return r, err
	}
	err = l.jsonCall(&r, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_release_hold(h, cid, cactor, cauthz, out)
	})
	return r, err
}

// RetentionRulesAt returns the retention rules in force for the entry at index (CurrentSize:
// the next append), or nil before any were recorded.
func (l *Ledger) RetentionRulesAt(index uint64) (*RetentionRulesVersion, error) {
	var v *RetentionRulesVersion
	err := l.jsonCall(&v, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_retention_rules_at(h, C.uint64_t(index), out)
	})
	return v, err
}

// LegalHolds returns every legal hold recorded, in force or released, in the order placed.
func (l *Ledger) LegalHolds() ([]LegalHold, error) {
	var hs []LegalHold
	err := l.jsonCall(&hs, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_legal_holds(h, out)
	})
	return hs, err
}

// RetentionPlan returns what retention allows at time at (the zero time: now).
func (l *Ledger) RetentionPlan(at time.Time) (RetentionPlan, error) {
	var p RetentionPlan
	var cs cstrs
	defer cs.free()
	cat, err := cs.addOpt(timeText(at), "at", CodeMalformed)
	if err != nil {
		return p, err
	}
	err = l.jsonCall(&p, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_retention_plan(h, cat, out)
	})
	return p, err
}
