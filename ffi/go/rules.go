package trailseal

// #include <stdlib.h>
// #include <stdbool.h>
// #include <stdint.h>
// #include <trailseal.h>
import "C"

import "encoding/json"

// RulesVersion is a rules version as the ledger holds it (docs/RULES.md): the entry that
// published it, who published it and why that was allowed, and the document.
type RulesVersion struct {
	Index       uint64          `json:"index"`   // of its rules.published entry; it governs the entries after it
	Version     string          `json:"version"` // the document's version
	Digest      string          `json:"digest"`  // of the document
	PublishedBy string          `json:"published_by"`
	Authz       json.RawMessage `json:"authz"`    // why publishing it was allowed (JSON null if not given)
	Links       json.RawMessage `json:"links"`    // for example approved_by an approval entry
	Document    json.RawMessage `json:"document"` // the rules document
}

// RulesVerdict is how a rules document judges an accepted entry (CheckRules).
type RulesVerdict struct {
	Version    string  `json:"version"`
	Class      *string `json:"class"` // nil for an action no class names
	BreakGlass bool    `json:"break_glass"`
	Retention  *string `json:"retention"`
	AIOutput   bool    `json:"ai_output"`
}

// optJSON is the C JSON text of an optional argument: nil is NULL.
func optJSON(cs *cstrs, v any, what string) (*C.char, error) {
	if v == nil {
		return nil, nil
	}
	text, err := jsonText(v, what)
	if err != nil {
		return nil, err
	}
	return cs.add(string(text), what, CodeMalformed)
}

// PublishRules publishes a rules document (docs/RULES.md; anything Append takes as a value,
// or its JSON text) as a rules.published entry by actor, with authz (why it was allowed) and
// links (for example []map[string]any{{"rel": "approved_by", "index": 12}}), each nil when
// absent. It is judged by the rules in force before it and governs every entry after it. A
// document that is not rules is CodeMalformed (refused whole, nothing written).
func (l *Ledger) PublishRules(document any, actor string, authz, links any) (Receipt, error) {
	var r Receipt
	var cs cstrs
	defer cs.free()
	text, err := jsonText(document, "rules document")
	if err != nil {
		return r, err
	}
	cdoc, err := cs.add(string(text), "rules document", CodeMalformed)
	if err != nil {
		return r, err
	}
	cactor, err := cs.add(actor, "actor", CodeInvalidEntry)
	if err != nil {
		return r, err
	}
	cauthz, err := optJSON(&cs, authz, "authz")
	if err != nil {
		return r, err
	}
	clinks, err := optJSON(&cs, links, "links")
	if err != nil {
		return r, err
	}
	err = l.jsonCall(&r, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_publish_rules(h, cdoc, cactor, cauthz, clinks, out)
	})
	return r, err
}

// RulesVersions returns every rules version published, oldest first.
func (l *Ledger) RulesVersions() ([]RulesVersion, error) {
	var vs []RulesVersion
	err := l.jsonCall(&vs, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_rules_versions(h, out)
	})
	return vs, err
}

// RulesAt returns the rules version in force for the entry at index (CurrentSize: the next
// append), or nil before any was published.
func (l *Ledger) RulesAt(index uint64) (*RulesVersion, error) {
	var v *RulesVersion
	err := l.jsonCall(&v, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_rules_at(h, C.uint64_t(index), out)
	})
	return v, err
}

// SetRecordRefusals records (true) or stops recording appends through this handle that break
// the rules as audit.refused entries; the append still fails with CodeRuleViolation. Off by
// default.
func (l *Ledger) SetRecordRefusals(record bool) error {
	return l.with(func(h *C.trailseal_ledger) error {
		return call(func() C.trailseal_status {
			return C.trailseal_ledger_set_record_refusals(h, C.bool(record))
		})
	})
}

// DeliveryReport returns the delivery measures (docs/RULES.md, "Reports") as the library's
// JSON: mean time to decision, change requests per week, approval concentration (approvers
// whose share is above *threshold, or 0.5 when threshold is nil, flagged), break-glass per
// class and the AI intervention rate. A threshold outside 0..1 is CodeInvalidArgument.
func (l *Ledger) DeliveryReport(threshold *float64) (json.RawMessage, error) {
	var r json.RawMessage
	err := l.jsonCall(&r, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		if threshold == nil {
			return C.trailseal_ledger_delivery_report(h, nil, out)
		}
		t := C.double(*threshold)
		return C.trailseal_ledger_delivery_report(h, &t, out)
	})
	return r, err
}

// CheckRules judges entry against the rules document without a ledger, as `trailseal rules
// check` does (both anything Append takes as a value, or JSON text). An entry that breaks the
// rules is CodeRuleViolation naming the class, the requirement and the version; a document
// that is not rules CodeMalformed; an invalid entry CodeInvalidEntry. Link requirements naming
// a linked entry's action or role cannot be met without a ledger.
func CheckRules(document, entry any) (RulesVerdict, error) {
	var v RulesVerdict
	var cs cstrs
	defer cs.free()
	doc, err := jsonText(document, "rules document")
	if err != nil {
		return v, err
	}
	cdoc, err := cs.add(string(doc), "rules document", CodeMalformed)
	if err != nil {
		return v, err
	}
	e, err := jsonText(entry, "entry")
	if err != nil {
		return v, err
	}
	centry, err := cs.add(string(e), "entry", CodeMalformed)
	if err != nil {
		return v, err
	}
	var out *C.char
	if err := call(func() C.trailseal_status { return C.trailseal_rules_check(cdoc, centry, &out) }); err != nil {
		return v, err
	}
	return v, takeJSON(out, &v)
}
