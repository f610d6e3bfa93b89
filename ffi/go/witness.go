package trailseal

// #include <stdlib.h>
// #include <stdint.h>
// #include <trailseal.h>
import "C"

import (
	"encoding/json"
	"time"
)

// Witness names a C2SP witness to ask (Ledger.Witness).
type Witness struct {
	URL string // its submission prefix (add-checkpoint is appended)
	Key string // its vkey
}

// WitnessOutcome is what one witness did.
type WitnessOutcome struct {
	URL       string `json:"url"`
	Witness   string `json:"witness"`             // its name
	Cosigned  bool   `json:"cosigned"`            // whether its valid cosignature is kept
	Timestamp uint64 `json:"timestamp,omitempty"` // of the cosignature, POSIX seconds
	Error     string `json:"error,omitempty"`     // why it did not cosign
}

// WitnessReport is what Ledger.Witness did.
type WitnessReport struct {
	Size      uint64           `json:"size"`   // the size of the checkpoint asked for
	Quorum    int              `json:"quorum"` // how many had to cosign
	Cosigned  int              `json:"cosigned"`
	QuorumMet bool             `json:"quorum_met"`
	Note      string           `json:"note"` // the checkpoint with every cosignature kept for it
	Witnesses []WitnessOutcome `json:"witnesses"`
}

// Witness asks C2SP witnesses (tlog-witness v1.0.0) to cosign the ledger's checkpoint at
// its current size, signed by s (the newest kept checkpoint is reused when it is of that size
// and by that key), and keeps every valid cosignature with the checkpoint. quorum is how many
// must cosign (negative: all of them); each request may take timeout. The report comes back
// even when fewer than quorum cosigned (check QuorumMet; each failed witness says why).
// ErrInvalidArgument before any request for a ledger whose tree is not SHA-256, no witness,
// the same witness twice, an unmeetable quorum or a timeout that is not positive. The
// requests run with no lock held: other handles and processes append meanwhile.
func (l *Ledger) Witness(s *Signer, witnesses []Witness, quorum int, timeout time.Duration) (WitnessReport, error) {
	var report WitnessReport
	if s == nil {
		return report, &Error{Code: CodeInvalidArgument, Message: "nil signer"}
	}
	pairs := make([][2]string, len(witnesses))
	for i, w := range witnesses {
		pairs[i] = [2]string{w.URL, w.Key}
	}
	text, err := json.Marshal(pairs)
	if err != nil {
		return report, err
	}
	var cs cstrs
	defer cs.free()
	cwitnesses, err := cs.add(string(text), "witnesses", CodeMalformed)
	if err != nil {
		return report, err
	}
	err = s.with(func(sh *C.trailseal_signer) error {
		return l.jsonCall(&report, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
			return C.trailseal_ledger_witness(h, sh, cwitnesses, C.int64_t(quorum),
				C.double(timeout.Seconds()), out)
		})
	})
	return report, err
}
