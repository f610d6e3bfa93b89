package trailseal

// #include <stdlib.h>
// #include <stdint.h>
// #include <trailseal.h>
import "C"

import (
	"runtime"
	"time"
	"unsafe"
)

// CheckpointLatest asks Ledger.TimestampCheckpoint for the newest kept checkpoint.
const CheckpointLatest = ^uint64(0)

// TimestampedCheckpoint is a kept checkpoint with the time-stamp token kept for it.
type TimestampedCheckpoint struct {
	Checkpoint uint64       `json:"checkpoint"` // its number among the kept ones (0 is the first)
	Size       uint64       `json:"size"`
	Attested   AttestedTime `json:"attested"`
	Requested  bool         `json:"requested"` // false when a token it already had was kept
	Token      []byte       `json:"token"`     // DER TimeStampToken
}

// TimestampCheckpoint has the RFC 3161 time-stamp authority at tsaURL time-stamp kept
// checkpoint number checkpoint (CheckpointLatest for the newest; when none is kept, one is
// signed now by s, which may otherwise be nil), checks the token against the trusted CA
// certificate caPEM and keeps it beside the checkpoint. A checkpoint whose token already
// checks out under caPEM keeps it and no request is made. Nothing is stored on failure:
// ErrIO for a TSA that cannot be reached, does not answer within timeout or answers garbage,
// ErrVerificationFailed for a token that does not check out, ErrOutOfRange for a checkpoint
// number not kept, ErrInvalidArgument for no checkpoint and no signer, or a timeout that is
// not positive.
func (l *Ledger) TimestampCheckpoint(tsaURL, caPEM string, checkpoint uint64, s *Signer, timeout time.Duration) (TimestampedCheckpoint, error) {
	var t TimestampedCheckpoint
	var cs cstrs
	defer cs.free()
	curl, err := cs.add(tsaURL, "TSA URL", CodeInvalidArgument)
	if err != nil {
		return t, err
	}
	cca, err := cs.add(caPEM, "CA certificate", CodeMalformed)
	if err != nil {
		return t, err
	}
	run := func(sh *C.trailseal_signer) error {
		return l.jsonCall(&t, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
			return C.trailseal_ledger_timestamp_checkpoint(h, curl, cca, C.uint64_t(checkpoint), sh,
				C.double(timeout.Seconds()), out)
		})
	}
	if s == nil {
		return t, run(nil)
	}
	return t, s.with(run)
}

// CheckpointTimestamp returns the time-stamp token (DER) kept for checkpoint number
// checkpoint, or nil when none is kept. Check it with VerifyTimestampToken over that
// checkpoint's note.
func (l *Ledger) CheckpointTimestamp(checkpoint uint64) ([]byte, error) {
	var token []byte
	err := l.with(func(h *C.trailseal_ledger) error {
		var p *C.uint8_t
		var n C.size_t
		if err := call(func() C.trailseal_status {
			return C.trailseal_ledger_checkpoint_timestamp(h, C.uint64_t(checkpoint), &p, &n)
		}); err != nil {
			return err
		}
		if p != nil {
			token = C.GoBytes(unsafe.Pointer(p), C.int(n))
			C.trailseal_bytes_free(p, n)
		}
		return nil
	})
	return token, err
}

// VerifyBundleWithTSA is VerifyBundle, and the bundle's time-stamp token checked against the
// trusted CA certificate caPEM: the report's Attested says what it attests. A bundle without
// a token, or one that does not check out, is ErrVerificationFailed.
func VerifyBundleWithTSA(bundle []byte, verifierKey, caPEM string) (BundleReport, error) {
	var r BundleReport
	var cs cstrs
	defer cs.free()
	vkey, err := cs.add(verifierKey, "verifier key", CodeMalformed)
	if err != nil {
		return r, err
	}
	cca, err := cs.add(caPEM, "CA certificate", CodeMalformed)
	if err != nil {
		return r, err
	}
	var out *C.char
	err = call(func() C.trailseal_status {
		return C.trailseal_verify_bundle_with_tsa(bytesPtr(bundle), C.size_t(len(bundle)), vkey, cca, &out)
	})
	runtime.KeepAlive(bundle)
	if err != nil {
		return r, err
	}
	return r, takeJSON(out, &r)
}
