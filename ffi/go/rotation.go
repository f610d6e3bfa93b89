package trailseal

// #include <stdlib.h>
// #include <stdint.h>
// #include <trailseal.h>
import "C"

import "unsafe"

// RotatedKey is what Ledger.RotateKey did (SPEC section 4.1).
type RotatedKey struct {
	Index  uint64 `json:"index"`   // of the key.rotated entry
	OldKey string `json:"old_key"` // the verifier key replaced
	NewKey string `json:"new_key"` // the verifier key now in force
	Note   string `json:"note"`    // the checkpoint over it, signed by both keys
}

// RotateKey puts new in force as the ledger's checkpoint key in place of old (the key in
// force): a key.rotated entry by actor names both verifier keys, and a checkpoint over it is
// kept signed by old and then new. Later checkpoints must be signed by new; Verify follows
// the chain from the first key. ErrInvalidArgument when old is not the key in force or new is
// the same key. Run again after an interruption, it completes the same rotation.
func (l *Ledger) RotateKey(old, new *Signer, actor string) (RotatedKey, error) {
	var r RotatedKey
	if old == nil || new == nil {
		return r, &Error{Code: CodeInvalidArgument, Message: "nil signer"}
	}
	cactor, err := cString(actor, "actor", CodeInvalidArgument)
	if err != nil {
		return r, err
	}
	defer C.free(unsafe.Pointer(cactor))
	err = old.with(func(oh *C.trailseal_signer) error {
		return new.with(func(nh *C.trailseal_signer) error {
			return l.jsonCall(&r, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
				return C.trailseal_ledger_rotate_key(h, oh, nh, cactor, out)
			})
		})
	})
	return r, err
}

// VerifierKey returns the verifier key that signs the ledger's checkpoints now: the one
// recorded at creation, followed through every rotation that holds ("" when none is
// recorded).
func (l *Ledger) VerifierKey() (string, error) {
	var key string
	err := l.with(func(h *C.trailseal_ledger) error {
		var out *C.char
		if err := call(func() C.trailseal_status { return C.trailseal_ledger_verifier_key(h, &out) }); err != nil {
			return err
		}
		if out != nil {
			key = take(out)
		}
		return nil
	})
	return key, err
}
