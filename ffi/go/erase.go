package trailseal

// #include <stdlib.h>
// #include <stdint.h>
// #include <trailseal.h>
import "C"

import "encoding/json"

// EraseReport is what an erasure did (or, dry, would do).
type EraseReport struct {
	DryRun  bool     `json:"dry_run"`
	Erased  []uint64 `json:"erased"`  // the entries whose personal values went, ascending
	Count   uint64   `json:"count"`   // how many
	Skipped uint64   `json:"skipped"` // chosen entries with nothing to erase
	Records []uint64 `json:"records"` // the erasure.performed entries appended
}

// EraseOptions are the optional parts of an erasure.
type EraseOptions struct {
	LegalBasis string // recorded when not empty, e.g. "GDPR Art. 17(1)(a)"
	Request    string // the record's subject id ("" for "erasure")
	DryRun     bool   // only say what would be erased
}

// Erase erases the personal values (SPEC section 10) of the entries select names
// ({"actor": id}, {"subject": "type:id"} or {"indexes": [...]}, a value or its JSON text),
// recording an erasure.performed entry by actor with authz (why it was allowed) and reason.
// Their leaves and every proof stay; they read with "erased": {"by": record}; the file keeps
// nothing of the values. An entry under a legal hold, a protected record, nothing to erase or
// a ledger without personal fields is CodeInvalidArgument, with nothing changed.
func (l *Ledger) Erase(selection any, reason, actor string, authz any, opts EraseOptions) (EraseReport, error) {
	var r EraseReport
	var cs cstrs
	defer cs.free()
	sel, err := jsonText(selection, "selection")
	if err != nil {
		return r, err
	}
	csel, err := cs.add(string(sel), "selection", CodeMalformed)
	if err != nil {
		return r, err
	}
	creason, err := cs.add(reason, "reason", CodeInvalidArgument)
	if err != nil {
		return r, err
	}
	cactor, cauthz, err := recordedBy(&cs, actor, authz)
	if err != nil {
		return r, err
	}
	cbasis, err := cs.addOpt(opts.LegalBasis, "legal basis", CodeInvalidArgument)
	if err != nil {
		return r, err
	}
	crequest, err := cs.addOpt(opts.Request, "request", CodeInvalidArgument)
	if err != nil {
		return r, err
	}
	err = l.jsonCall(&r, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_erase(h, csel, creason, cactor, cauthz, cbasis, crequest,
			C.bool(opts.DryRun), out)
	})
	return r, err
}

// Openings returns entry index's openings, {"<field>": {"salt", "value"}}, for whoever must
// show later what it recorded (CheckOpening); nil without sealed fields or once erased.
func (l *Ledger) Openings(index uint64) (json.RawMessage, error) {
	s, err := l.stringCall(func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_openings(h, C.uint64_t(index), out)
	})
	if err != nil || s == "null" {
		return nil, err
	}
	return json.RawMessage(s), nil
}

// PersonalFields returns the fields this ledger seals as commitments (empty when none).
func (l *Ledger) PersonalFields() ([]string, error) {
	fields := []string{}
	err := l.jsonCall(&fields, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_personal_fields(h, out)
	})
	return fields, err
}

// ScrubFreePages overwrites the file's free pages with zeros (what Erase ends with).
func (l *Ledger) ScrubFreePages() error {
	return l.with(func(h *C.trailseal_ledger) error {
		return call(func() C.trailseal_status { return C.trailseal_ledger_scrub_free_pages(h) })
	})
}

// CheckOpening checks that value (any value encoding/json writes; a json.RawMessage as is)
// under salt (64 hex digits) gives commitment (a sealed field as a leaf holds it): how whoever
// kept an entry's openings shows what it recorded, after its erasure too.
// CodeVerificationFailed when they do not, CodeInvalidArgument for a salt that is not 32
// bytes of hex.
func CheckOpening(commitment, salt string, value any) error {
	var text []byte
	switch v := value.(type) {
	case json.RawMessage:
		text = v
	default:
		var err error
		if text, err = json.Marshal(value); err != nil {
			return &Error{Code: CodeMalformed, Message: "value cannot be encoded as JSON: " + err.Error(), cause: err}
		}
	}
	var cs cstrs
	defer cs.free()
	cc, err := cs.add(commitment, "commitment", CodeInvalidArgument)
	if err != nil {
		return err
	}
	csalt, err := cs.add(salt, "salt", CodeInvalidArgument)
	if err != nil {
		return err
	}
	cvalue, err := cs.add(string(text), "value", CodeMalformed)
	if err != nil {
		return err
	}
	return call(func() C.trailseal_status { return C.trailseal_check_opening(cc, csalt, cvalue) })
}
