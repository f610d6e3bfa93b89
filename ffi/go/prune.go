package trailseal

// #include <stdlib.h>
// #include <stdint.h>
// #include <stdbool.h>
// #include <trailseal.h>
import "C"

import "time"

// PruneReport is what a prune did (or, dry, would do).
type PruneReport struct {
	DryRun bool   `json:"dry_run"`
	Before string `json:"before"` // the time retention was judged at
	Size   uint64 `json:"size"`   // the tree size judged
	Rules  *struct {
		Index   uint64 `json:"index"`
		Version string `json:"version"`
	} `json:"rules"` // the rules version in force, nil when none is recorded
	Pruned        [][2]uint64       `json:"pruned"`         // the entries removed (or that would be), as [start, end) ranges
	Count         uint64            `json:"count"`          // how many entries they hold
	Records       []uint64          `json:"records"`        // the indexes of the retention.pruned entries appended
	Kept          map[string]uint64 `json:"kept"`           // entries kept per reason: protected, no_rule, in_retention, held, linked, at_edge
	AlreadyPruned uint64            `json:"already_pruned"` // entries pruned before
}

// PrunedEntry says where a pruned entry went.
type PrunedEntry struct {
	Index    uint64 `json:"index"`
	LeafHash string `json:"leaf_hash"` // kept: every proof still verifies
	Pruned   struct {
		By           uint64 `json:"by"` // the index of the retention.pruned entry
		At           string `json:"at"` // its time
		RulesVersion string `json:"rules_version"`
	} `json:"pruned"`
}

// Prune removes the content of every entry whose retention ended by before and that no hold
// covers (with dryRun, only says what would go), recording each step as a retention.pruned
// entry by actor with authz ({"decision", "policy", "reason"?}). Every proof and checkpoint
// still verifies. A ledger with committed indexes is CodeInvalidArgument.
func (l *Ledger) Prune(before time.Time, dryRun bool, actor string, authz any) (PruneReport, error) {
	var r PruneReport
	var cs cstrs
	defer cs.free()
	cbefore, err := cs.add(timeText(before), "before", CodeMalformed)
	if err != nil {
		return r, err
	}
	cactor, cauthz, err := recordedBy(&cs, actor, authz)
	if err != nil {
		return r, err
	}
	err = l.jsonCall(&r, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_prune(h, cbefore, C.bool(dryRun), cactor, cauthz, out)
	})
	return r, err
}

// Pruned says where entry index went, or nil when its content is there. Get of a pruned
// entry is ErrOutOfRange saying the same.
func (l *Ledger) Pruned(index uint64) (*PrunedEntry, error) {
	var p *PrunedEntry
	err := l.jsonCall(&p, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_pruned(h, C.uint64_t(index), out)
	})
	return p, err
}

// Compact rewrites the ledger file at path so the pages pruning freed go back to the file
// system, and says whether anything moved. Needs the file to itself: with any handle open on
// it, ErrLocked.
func Compact(path string) (bool, error) {
	var cs cstrs
	defer cs.free()
	cpath, err := cs.add(path, "path", CodeInvalidArgument)
	if err != nil {
		return false, err
	}
	var moved C.bool
	err = call(func() C.trailseal_status {
		return C.trailseal_compact(cpath, &moved)
	})
	return bool(moved), err
}
