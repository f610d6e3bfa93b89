package trailseal

/*
#include <stdlib.h>
#include <stdint.h>
#include <trailseal.h>

extern void trailsealGoProgress(void *userdata, uint64_t done, uint64_t total);

static trailseal_status ts_verify_progress(const trailseal_ledger *l, const char *note,
                                           const char *vkey, uint32_t flags,
                                           const char *witness_keys, int64_t quorum,
                                           void *userdata, char **out) {
  return trailseal_ledger_verify_witnessed(l, note, vkey, flags, witness_keys, quorum,
                                           trailsealGoProgress, userdata, out);
}
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Version is the version of the linked trailseal library, e.g. "0.1.0".
func Version() string { return C.GoString(C.trailseal_version()) }

// call runs one C call and turns a failure into an *Error. The thread is locked so that the
// thread-local last-error message read after the call is the one this call left.
func call(f func() C.trailseal_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	status := f()
	if status == C.TRAILSEAL_STATUS_OK {
		return nil
	}
	return &Error{Code: Code(status), Message: C.GoString(C.trailseal_last_error_message())}
}

// cString copies s into C memory (free it with C.free); a NUL byte, which would cut the
// string short in C, is refused with `code`.
func cString(s, what string, code Code) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, &Error{Code: code, Message: what + " contains a NUL byte"}
	}
	return C.CString(s), nil
}

// cStrings converts several strings at once; free them all with the returned function, even
// on error.
type cstrs []*C.char

func (cs *cstrs) add(s, what string, code Code) (*C.char, error) {
	p, err := cString(s, what, code)
	if err == nil {
		*cs = append(*cs, p)
	}
	return p, err
}

// addOpt adds an optional string: "" is NULL.
func (cs *cstrs) addOpt(s, what string, code Code) (*C.char, error) {
	if s == "" {
		return nil, nil
	}
	return cs.add(s, what, code)
}

func (cs cstrs) free() {
	for _, p := range cs {
		C.free(unsafe.Pointer(p))
	}
}

// take returns a library string as a Go string and frees it.
func take(p *C.char) string {
	s := C.GoString(p)
	C.trailseal_string_free(p)
	return s
}

// takeJSON decodes a library JSON string into v and frees it.
func takeJSON(p *C.char, v any) error {
	text := take(p)
	if err := json.Unmarshal([]byte(text), v); err != nil {
		return &Error{Code: CodeInternal, Message: fmt.Sprintf("unexpected JSON from the library: %v: %s", err, text), cause: err}
	}
	return nil
}

// bytesPtr is a pointer to b's data for the duration of a call (NULL when empty).
func bytesPtr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// jsonText is the JSON text of v: []byte, json.RawMessage and string are taken as JSON text
// already; anything else goes through json.Marshal.
func jsonText(v any, what string) ([]byte, error) {
	var text []byte
	switch t := v.(type) {
	case []byte:
		text = t
	case json.RawMessage:
		text = t
	case string:
		text = []byte(t)
	default:
		var err error
		if text, err = json.Marshal(v); err != nil {
			return nil, &Error{Code: CodeMalformed, Message: what + " cannot be encoded as JSON: " + err.Error(), cause: err}
		}
	}
	if bytes.IndexByte(text, 0) >= 0 {
		return nil, &Error{Code: CodeMalformed, Message: what + " contains a NUL byte"}
	}
	return text, nil
}

// ---- Ledger ---------------------------------------------------------------------------

// Durability says when an append's data reaches the disk.
type Durability int

const (
	// Immediate: every append is fsync'd before it returns (the default).
	Immediate Durability = iota
	// NotDurableUntilSync: appends return before their data is fsync'd; a crash may lose
	// them (never corrupt the ledger) until Sync returns. An opt-in for bulk imports.
	NotDurableUntilSync
)

// CreateOptions says how a ledger is created. Origin, hash, kind and limit never change
// afterwards.
type CreateOptions struct {
	Origin        string     // the log's origin line, e.g. "example.com/payments/audit" (required)
	Hash          HashAlg    // "" for the core's default (SHA256), or SHA256 or Blake3
	Raw           bool       // hold raw leaves (opaque bytes) instead of audit entries
	MaxEntryBytes uint64     // the most bytes one leaf may have; 0 for the default (1 MiB)
	Durability    Durability // of appends through the returned handle
	Share         Sharing    // how the returned handle shares the file ("" for the default)
	// The fields sealed as salted commitments, their values kept beside the leaves so that
	// Erase can delete them (SPEC section 10): "actor.id", "change.before", ...; nil for none.
	Personal []string
}

// OpenOptions says how an existing ledger is opened.
type OpenOptions struct {
	// If another handle or process holds the ledger exclusively, wait up to this long for it
	// (rounded up to a millisecond); 0 fails at once with ErrLocked.
	Wait       time.Duration
	Durability Durability // of appends through this handle
	// How this handle shares the file with others ("" for the default, Auto for a durable
	// handle). A shared mode with NotDurableUntilSync is ErrInvalidArgument; an
	// unknown name ErrMalformed.
	Share Sharing
	// Open for reading only: the handle never writes a byte of the file (read permission is
	// enough); Append, Checkpoint and Sync through it are ErrInvalidArgument.
	ReadOnly bool
}

// Ledger is an open ledger. Close it to release the file.
type Ledger struct {
	mu sync.RWMutex
	h  *C.trailseal_ledger
}

func newLedger(h *C.trailseal_ledger) *Ledger {
	l := &Ledger{h: h}
	runtime.SetFinalizer(l, (*Ledger).Close)
	return l
}

// Create makes a new ledger file at path; an existing file is refused with ErrAlreadyExists.
func Create(path string, opts CreateOptions) (*Ledger, error) {
	var cs cstrs
	defer cs.free()
	cpath, err := cs.add(path, "path", CodeInvalidArgument)
	if err != nil {
		return nil, err
	}
	origin, err := cs.add(opts.Origin, "origin", CodeInvalidArgument)
	if err != nil {
		return nil, err
	}
	hash, err := cs.addOpt(string(opts.Hash), "hash", CodeInvalidArgument)
	if err != nil {
		return nil, err
	}
	share, err := cs.addOpt(string(opts.Share), "share", CodeMalformed)
	if err != nil {
		return nil, err
	}
	var personal *C.char
	if opts.Personal != nil {
		text, err := json.Marshal(opts.Personal)
		if err != nil {
			return nil, &Error{Code: CodeInvalidArgument, Message: "personal fields: " + err.Error(), cause: err}
		}
		if personal, err = cs.add(string(text), "personal fields", CodeInvalidArgument); err != nil {
			return nil, err
		}
	}
	var h *C.trailseal_ledger
	err = call(func() C.trailseal_status {
		return C.trailseal_ledger_create_personal(cpath, origin, hash, C.bool(opts.Raw),
			C.uint64_t(opts.MaxEntryBytes), C.bool(opts.Durability == Immediate), share,
			personal, &h)
	})
	if err != nil {
		return nil, err
	}
	return newLedger(h), nil
}

// Open opens an existing ledger: ErrNotFound if there is no file, ErrNotALedger if it is not
// a ledger, ErrLocked if another handle or process holds it in a way opts.Share does not
// allow (after waiting opts.Wait).
func Open(path string, opts OpenOptions) (*Ledger, error) {
	var cs cstrs
	defer cs.free()
	cpath, err := cs.add(path, "path", CodeInvalidArgument)
	if err != nil {
		return nil, err
	}
	share, err := cs.addOpt(string(opts.Share), "share", CodeMalformed)
	if err != nil {
		return nil, err
	}
	waitMS := uint64((opts.Wait + time.Millisecond - 1) / time.Millisecond)
	if opts.Wait <= 0 {
		waitMS = 0
	}
	var h *C.trailseal_ledger
	err = call(func() C.trailseal_status {
		return C.trailseal_ledger_open_with(cpath, C.uint64_t(waitMS), C.bool(opts.Durability == Immediate),
			share, C.bool(opts.ReadOnly), &h)
	})
	if err != nil {
		return nil, err
	}
	return newLedger(h), nil
}

// Close releases the ledger and unlocks its file, after any calls in progress. Closing a
// closed ledger does nothing.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h != nil {
		C.trailseal_ledger_free(l.h)
		l.h = nil
		runtime.SetFinalizer(l, nil)
	}
	return nil
}

// with runs f with the live handle (shared with other calls, exclusive of Close).
func (l *Ledger) with(f func(h *C.trailseal_ledger) error) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.h == nil {
		return ErrClosed
	}
	return f(l.h)
}

// stringCall runs a C function writing one string out-parameter.
func (l *Ledger) stringCall(f func(h *C.trailseal_ledger, out **C.char) C.trailseal_status) (string, error) {
	var s string
	err := l.with(func(h *C.trailseal_ledger) error {
		var out *C.char
		if err := call(func() C.trailseal_status { return f(h, &out) }); err != nil {
			return err
		}
		s = take(out)
		return nil
	})
	return s, err
}

// jsonCall runs a C function writing one JSON out-parameter and decodes it into v.
func (l *Ledger) jsonCall(v any, f func(h *C.trailseal_ledger, out **C.char) C.trailseal_status) error {
	text, err := l.stringCall(f)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(text), v); err != nil {
		return &Error{Code: CodeInternal, Message: fmt.Sprintf("unexpected JSON from the library: %v: %s", err, text), cause: err}
	}
	return nil
}

// Info returns what never changes about the ledger, and how this handle was opened.
func (l *Ledger) Info() (LedgerInfo, error) {
	var info LedgerInfo
	err := l.jsonCall(&info, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_info(h, out)
	})
	return info, err
}

// Append records one audit entry, durably unless the ledger was opened NotDurableUntilSync.
// entry is an Entry, any value json.Marshal turns into an entry object (a map, a struct),
// or JSON text ([]byte, json.RawMessage or string). The ledger assigns "v" and "time".
//
// An entry whose ID is already recorded with the same content is not written again: its
// receipt is the recorded one's; with other content it is ErrIDConflict. Refused input
// (ErrInvalidEntry, ErrMalformed, ErrWrongKind on a raw ledger) writes nothing.
func (l *Ledger) Append(entry any) (Receipt, error) {
	var r Receipt
	text, err := jsonText(entry, "entry")
	if err != nil {
		return r, err
	}
	ctext := C.CString(string(text))
	defer C.free(unsafe.Pointer(ctext))
	err = l.jsonCall(&r, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_append(h, ctext, out)
	})
	return r, err
}

// AppendBatch records entries atomically: all in one commit, or none. entries is a slice
// of anything Append takes as a value (e.g. []Entry, []map[string]any,
// []json.RawMessage), or the JSON text of an array. The receipts are in order.
func (l *Ledger) AppendBatch(entries any) ([]Receipt, error) {
	text, err := jsonText(entries, "entry batch")
	if err != nil {
		return nil, err
	}
	ctext := C.CString(string(text))
	defer C.free(unsafe.Pointer(ctext))
	receipts := []Receipt{}
	err = l.jsonCall(&receipts, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_append_batch(h, ctext, out)
	})
	if err != nil {
		return nil, err
	}
	return receipts, nil
}

// AppendRaw records one raw leaf (raw ledgers only; ErrWrongKind otherwise). A leaf over the
// ledger's limit is ErrInvalidArgument.
func (l *Ledger) AppendRaw(leaf []byte) (Receipt, error) {
	var r Receipt
	err := l.jsonCall(&r, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_append_raw(h, bytesPtr(leaf), C.size_t(len(leaf)), out)
	})
	runtime.KeepAlive(leaf)
	return r, err
}

// AppendRawBatch records raw leaves atomically.
func (l *Ledger) AppendRawBatch(leaves [][]byte) ([]Receipt, error) {
	// The C side takes an array of pointers, which cgo forbids to point into Go memory: copy
	// the leaves into one C buffer.
	n := len(leaves)
	total := 0
	for _, leaf := range leaves {
		total += len(leaf)
	}
	var data, ptrs, lens unsafe.Pointer
	if n > 0 {
		data = C.malloc(C.size_t(total + 1))
		ptrs = C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof(uintptr(0))))
		lens = C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof(C.size_t(0))))
		defer C.free(data)
		defer C.free(ptrs)
		defer C.free(lens)
		dataSlice := unsafe.Slice((*byte)(data), total+1)
		ptrSlice := unsafe.Slice((**C.uint8_t)(ptrs), n)
		lenSlice := unsafe.Slice((*C.size_t)(lens), n)
		at := 0
		for i, leaf := range leaves {
			copy(dataSlice[at:], leaf)
			ptrSlice[i] = (*C.uint8_t)(unsafe.Add(data, at))
			lenSlice[i] = C.size_t(len(leaf))
			at += len(leaf)
		}
	}
	receipts := []Receipt{}
	err := l.jsonCall(&receipts, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_append_raw_batch(h, (**C.uint8_t)(ptrs), (*C.size_t)(lens), C.size_t(n), out)
	})
	if err != nil {
		return nil, err
	}
	return receipts, nil
}

// Get returns the audit entry at index exactly as recorded: its canonical (RFC 8785) JSON,
// the leaf bytes, so LeafHash(hash, entry) is its leaf hash. ErrOutOfRange past the end,
// ErrWrongKind on a raw ledger.
func (l *Ledger) Get(index uint64) (json.RawMessage, error) {
	s, err := l.stringCall(func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_get(h, C.uint64_t(index), out)
	})
	if err != nil {
		return nil, err
	}
	return json.RawMessage(s), nil
}

// GetEntry returns the audit entry at index decoded into an Entry.
func (l *Ledger) GetEntry(index uint64) (Entry, error) {
	var e Entry
	raw, err := l.Get(index)
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return e, &Error{Code: CodeInternal, Message: "decoding entry: " + err.Error(), cause: err}
	}
	return e, nil
}

// GetRaw returns the exact leaf bytes at index (either kind of ledger).
func (l *Ledger) GetRaw(index uint64) ([]byte, error) {
	var leaf []byte
	err := l.with(func(h *C.trailseal_ledger) error {
		var p *C.uint8_t
		var n C.size_t
		if err := call(func() C.trailseal_status {
			return C.trailseal_ledger_get_raw(h, C.uint64_t(index), &p, &n)
		}); err != nil {
			return err
		}
		leaf = C.GoBytes(unsafe.Pointer(p), C.int(n))
		C.trailseal_bytes_free(p, n)
		return nil
	})
	return leaf, err
}

// LeafHash returns the leaf hash at index.
func (l *Ledger) LeafHash(index uint64) (Hash, error) {
	s, err := l.stringCall(func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_leaf_hash(h, C.uint64_t(index), out)
	})
	if err != nil {
		return Hash{}, err
	}
	return ParseHash(s)
}

// Size returns the number of leaves.
func (l *Ledger) Size() (uint64, error) {
	var size C.uint64_t
	err := l.with(func(h *C.trailseal_ledger) error {
		return call(func() C.trailseal_status { return C.trailseal_ledger_size(h, &size) })
	})
	return uint64(size), err
}

// Root returns the root of the current tree.
func (l *Ledger) Root() (Hash, error) { return l.RootAt(CurrentSize) }

// RootAt returns the root of the tree of size leaves (CurrentSize for the current tree);
// ErrOutOfRange beyond the ledger.
func (l *Ledger) RootAt(size uint64) (Hash, error) {
	s, err := l.stringCall(func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_root(h, C.uint64_t(size), out)
	})
	if err != nil {
		return Hash{}, err
	}
	return ParseHash(s)
}

// ProveInclusion returns the inclusion proof of leaf index in the tree of size leaves
// (CurrentSize for the current tree).
func (l *Ledger) ProveInclusion(index, size uint64) (InclusionProof, error) {
	var p InclusionProof
	text, err := l.proveInclusionJSON(index, size)
	if err == nil {
		err = decodeJSON(text, &p)
	}
	return p, err
}

func (l *Ledger) proveInclusionJSON(index, size uint64) (string, error) {
	return l.stringCall(func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_prove_inclusion(h, C.uint64_t(index), C.uint64_t(size), out)
	})
}

// ProveConsistency returns the consistency proof from the tree of oldSize leaves to the
// tree of size leaves (CurrentSize for the current tree).
func (l *Ledger) ProveConsistency(oldSize, size uint64) (ConsistencyProof, error) {
	var p ConsistencyProof
	text, err := l.proveConsistencyJSON(oldSize, size)
	if err == nil {
		err = decodeJSON(text, &p)
	}
	return p, err
}

func (l *Ledger) proveConsistencyJSON(oldSize, size uint64) (string, error) {
	return l.stringCall(func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_prove_consistency(h, C.uint64_t(oldSize), C.uint64_t(size), out)
	})
}

func decodeJSON(text string, v any) error {
	if err := json.Unmarshal([]byte(text), v); err != nil {
		return &Error{Code: CodeInternal, Message: fmt.Sprintf("unexpected JSON from the library: %v: %s", err, text), cause: err}
	}
	return nil
}

// Checkpoint signs a checkpoint of the tree of size leaves (CurrentSize for the current
// tree), keeps it in the ledger, and returns the signed note text (C2SP tlog-checkpoint).
func (l *Ledger) Checkpoint(s *Signer, size uint64) (string, error) {
	if s == nil {
		return "", &Error{Code: CodeInvalidArgument, Message: "nil signer"}
	}
	var note string
	err := s.with(func(sh *C.trailseal_signer) error {
		var err error
		note, err = l.stringCall(func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
			return C.trailseal_ledger_checkpoint(h, sh, C.uint64_t(size), out)
		})
		return err
	})
	return note, err
}

// Checkpoints returns every checkpoint the ledger signed, oldest first.
func (l *Ledger) Checkpoints() ([]StoredCheckpoint, error) {
	list := []StoredCheckpoint{}
	err := l.jsonCall(&list, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.trailseal_ledger_checkpoints(h, out)
	})
	return list, err
}

// VerifyOptions are the options of Ledger.Verify; the zero value checks the ledger alone.
type VerifyOptions struct {
	// Also check the ledger against this checkpoint held elsewhere: it must contain that
	// tree (catches rollback and forks; ErrInconsistent).
	Against *SignedCheckpoint
	// Also check every query-index posting against its entry (much slower; by default only
	// the indexes' structure is checked). A doctored index cannot change the record but
	// could hide entries from Query; this finds that (ErrTampered).
	Indexes bool
	// Called from the verifying goroutine with the leaves re-hashed so far and the total.
	Progress func(done, total uint64)
	// Also hold the ledger to these witnesses (vkeys): every kept cosignature of theirs is
	// re-verified, and Against (when given), else some kept checkpoint, must carry the
	// cosignatures of Quorum of them (ErrVerificationFailed). The report's WitnessedSize is
	// the largest size so witnessed.
	Witnesses []string
	// How many of Witnesses must have cosigned; 0 (or negative) asks for all of them.
	Quorum int
}

// progressState is what the C progress callback reaches through its userdata.
type progressState struct {
	f         func(done, total uint64)
	recovered any
}

// Verify checks the whole ledger: re-hashes every leaf, recomputes every stored node,
// re-verifies every checkpoint it signed and its id index, and optionally its consistency
// with an outside checkpoint. Fails with ErrTampered (naming the first leaf, node or
// checkpoint that does not match), ErrInconsistent, or ErrVerificationFailed /
// ErrMalformed for a bad outside checkpoint or key.
func (l *Ledger) Verify(opts VerifyOptions) (VerifyReport, error) {
	var report VerifyReport
	var cs cstrs
	defer cs.free()
	var note, vkey *C.char
	if opts.Against != nil {
		var err error
		if note, err = cs.add(opts.Against.Note, "checkpoint note", CodeMalformed); err != nil {
			return report, err
		}
		if vkey, err = cs.add(opts.Against.VerifierKey, "verifier key", CodeMalformed); err != nil {
			return report, err
		}
	}
	var flags C.uint32_t
	if opts.Indexes {
		flags |= C.TRAILSEAL_VERIFY_INDEXES
	}
	var witnesses *C.char
	quorum := C.int64_t(-1)
	if opts.Witnesses != nil {
		keys, err := json.Marshal(opts.Witnesses)
		if err != nil {
			return report, err
		}
		if witnesses, err = cs.add(string(keys), "witness keys", CodeMalformed); err != nil {
			return report, err
		}
		if opts.Quorum > 0 {
			quorum = C.int64_t(opts.Quorum)
		}
	}
	if opts.Progress == nil {
		err := l.jsonCall(&report, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
			return C.trailseal_ledger_verify_witnessed(h, note, vkey, flags, witnesses, quorum, nil, nil, out)
		})
		return report, err
	}
	state := &progressState{f: opts.Progress}
	handle := cgo.NewHandle(state)
	defer handle.Delete()
	// The handle travels as C memory holding its value (a Go pointer may not be kept by C).
	userdata := C.malloc(C.size_t(unsafe.Sizeof(C.uintptr_t(0))))
	defer C.free(userdata)
	*(*C.uintptr_t)(userdata) = C.uintptr_t(handle)
	err := l.jsonCall(&report, func(h *C.trailseal_ledger, out **C.char) C.trailseal_status {
		return C.ts_verify_progress(h, note, vkey, flags, witnesses, quorum, userdata, out)
	})
	if state.recovered != nil {
		panic(state.recovered)
	}
	return report, err
}

// Sync makes every append made through a NotDurableUntilSync handle durable.
func (l *Ledger) Sync() error {
	return l.with(func(h *C.trailseal_ledger) error {
		return call(func() C.trailseal_status { return C.trailseal_ledger_sync(h) })
	})
}

// ---- Signer ---------------------------------------------------------------------------

// Signer is a checkpoint signing key: a name and an Ed25519 private key, in Go's
// golang.org/x/mod/sumdb/note format. Close it when done.
type Signer struct {
	mu   sync.RWMutex
	h    *C.trailseal_signer
	vkey string
}

func newSigner(f func(out **C.trailseal_signer) C.trailseal_status) (*Signer, error) {
	var h *C.trailseal_signer
	if err := call(func() C.trailseal_status { return f(&h) }); err != nil {
		return nil, err
	}
	var vkey *C.char
	if err := call(func() C.trailseal_status { return C.trailseal_signer_verifier_key(h, &vkey) }); err != nil {
		C.trailseal_signer_free(h)
		return nil, err
	}
	s := &Signer{h: h, vkey: take(vkey)}
	runtime.SetFinalizer(s, (*Signer).Close)
	return s, nil
}

// GenerateSigner makes a new key named name (usually the ledger's origin) from the system's
// random number generator. A name that is empty or holds white space, '+' or a control
// character is ErrMalformed.
func GenerateSigner(name string) (*Signer, error) {
	cname, err := cString(name, "key name", CodeMalformed)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cname))
	return newSigner(func(out **C.trailseal_signer) C.trailseal_status {
		return C.trailseal_signer_generate(cname, out)
	})
}

// ParseSigner reads a signer key string, PRIVATE+KEY+<name>+<hash>+<base64> (Go's
// note.GenerateKey, the key file of `trailseal init`); surrounding white space is ignored.
// ErrMalformed if it does not parse (the message never quotes the key).
func ParseSigner(key string) (*Signer, error) {
	ckey, err := cString(key, "signer key", CodeMalformed)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(ckey))
	return newSigner(func(out **C.trailseal_signer) C.trailseal_status {
		return C.trailseal_signer_from_string(ckey, out)
	})
}

// OpenSigner makes a signer named name for a key held outside the process: spec is
// "ssh-agent:<key comment or SHA256 fingerprint>" (the agent at SSH_AUTH_SOCK) or
// "pkcs11:<RFC 7512 URI>". The secret never enters the process: each signature is asked of
// the agent or token. ErrInvalidArgument for a spec of neither form, no such key, a key that
// is not Ed25519 or a wrong PIN; ErrIO for an agent or token that cannot be reached.
func OpenSigner(spec, name string) (*Signer, error) {
	var cs cstrs
	defer cs.free()
	cspec, err := cs.add(spec, "key spec", CodeInvalidArgument)
	if err != nil {
		return nil, err
	}
	cname, err := cs.add(name, "key name", CodeMalformed)
	if err != nil {
		return nil, err
	}
	return newSigner(func(out **C.trailseal_signer) C.trailseal_status {
		return C.trailseal_signer_open(cspec, cname, out)
	})
}

// SignerFromSeed makes the key named name whose Ed25519 seed is seed (32 bytes, else
// ErrInvalidArgument). The same name and seed always give the same key.
func SignerFromSeed(name string, seed []byte) (*Signer, error) {
	cname, err := cString(name, "key name", CodeMalformed)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cname))
	cseed := C.CBytes(append([]byte{0}, seed...)) // never NULL, even for an empty seed
	defer C.free(cseed)
	return newSigner(func(out **C.trailseal_signer) C.trailseal_status {
		return C.trailseal_signer_from_seed(cname, (*C.uint8_t)(unsafe.Add(cseed, 1)), C.size_t(len(seed)), out)
	})
}

// VerifierKey returns the public verifier key string <name>+<hash>+<base64>: what an
// auditor needs to check checkpoints (Go's note.NewVerifier reads it).
func (s *Signer) VerifierKey() string { return s.vkey }

// String returns the verifier key: never the secret.
func (s *Signer) String() string { return s.vkey }

// PrivateKey returns the signer key string PRIVATE+KEY+<name>+<hash>+<base64>. It is the
// secret: anyone holding it can sign as this key.
func (s *Signer) PrivateKey() (string, error) {
	var key string
	err := s.with(func(h *C.trailseal_signer) error {
		var out *C.char
		if err := call(func() C.trailseal_status { return C.trailseal_signer_to_string(h, &out) }); err != nil {
			return err
		}
		key = take(out)
		return nil
	})
	return key, err
}

func (s *Signer) with(f func(h *C.trailseal_signer) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.h == nil {
		return ErrClosed
	}
	return f(s.h)
}

// Close releases the key. Closing a closed signer does nothing.
func (s *Signer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h != nil {
		C.trailseal_signer_free(s.h)
		s.h = nil
		runtime.SetFinalizer(s, nil)
	}
	return nil
}

// ---- ledger-free verification ------------------------------------------------------------

// checkpointArgs converts an optional outside checkpoint.
func checkpointArgs(cs *cstrs, cp *SignedCheckpoint) (note, vkey *C.char, err error) {
	if cp == nil {
		return nil, nil, nil
	}
	if note, err = cs.add(cp.Note, "checkpoint note", CodeMalformed); err != nil {
		return nil, nil, err
	}
	if vkey, err = cs.add(cp.VerifierKey, "verifier key", CodeMalformed); err != nil {
		return nil, nil, err
	}
	return note, vkey, nil
}

// VerifyInclusion checks an inclusion proof with no ledger (RFC 9162 section 2.1.3.2). With
// leaf non-nil, the leaf bytes must hash to the proof's LeafHash (for an entry ledger, the
// entry's canonical JSON, as Get returns it; pass []byte{} for an empty raw leaf). With cp
// non-nil the checkpoint's signature is checked and the proof must be for its tree.
// ErrVerificationFailed if it does not check out, ErrMalformed for a bad proof, note or key,
// ErrOutOfRange for an index outside the tree.
func VerifyInclusion(proof InclusionProof, leaf []byte, cp *SignedCheckpoint) error {
	text, err := json.Marshal(proof)
	if err != nil {
		return &Error{Code: CodeMalformed, Message: err.Error(), cause: err}
	}
	return VerifyInclusionJSON(text, leaf, cp)
}

// VerifyInclusionJSON is VerifyInclusion for a proof in its SPEC JSON text.
func VerifyInclusionJSON(proof []byte, leaf []byte, cp *SignedCheckpoint) error {
	var cs cstrs
	defer cs.free()
	cproof, err := cs.add(string(proof), "proof", CodeMalformed)
	if err != nil {
		return err
	}
	note, vkey, err := checkpointArgs(&cs, cp)
	if err != nil {
		return err
	}
	if leaf == nil {
		return call(func() C.trailseal_status { return C.trailseal_verify_inclusion(cproof, note, vkey) })
	}
	err = call(func() C.trailseal_status {
		return C.trailseal_verify_inclusion_leaf(cproof, bytesPtr(leaf), C.size_t(len(leaf)), note, vkey)
	})
	runtime.KeepAlive(leaf)
	return err
}

// VerifyConsistency checks a consistency proof with no ledger (RFC 9162 section 2.1.4.2).
// With cp non-nil the checkpoint's signature is checked and one end of the proof must be its
// tree. Errors as VerifyInclusion.
func VerifyConsistency(proof ConsistencyProof, cp *SignedCheckpoint) error {
	text, err := json.Marshal(proof)
	if err != nil {
		return &Error{Code: CodeMalformed, Message: err.Error(), cause: err}
	}
	return VerifyConsistencyJSON(text, cp)
}

// VerifyConsistencyJSON is VerifyConsistency for a proof in its SPEC JSON text.
func VerifyConsistencyJSON(proof []byte, cp *SignedCheckpoint) error {
	var cs cstrs
	defer cs.free()
	cproof, err := cs.add(string(proof), "proof", CodeMalformed)
	if err != nil {
		return err
	}
	note, vkey, err := checkpointArgs(&cs, cp)
	if err != nil {
		return err
	}
	return call(func() C.trailseal_status { return C.trailseal_verify_consistency(cproof, note, vkey) })
}

// VerifyCheckpoint checks a signed checkpoint note against a verifier key and returns what
// it commits to. Checking that Origin is the expected log is the caller's job.
// ErrVerificationFailed for a signature that does not verify or is by another key,
// ErrMalformed for a note or key that does not parse.
func VerifyCheckpoint(note, verifierKey string) (CheckpointInfo, error) {
	var info CheckpointInfo
	var cs cstrs
	defer cs.free()
	cnote, vkey, err := checkpointArgs(&cs, &SignedCheckpoint{Note: note, VerifierKey: verifierKey})
	if err != nil {
		return info, err
	}
	var out *C.char
	if err := call(func() C.trailseal_status { return C.trailseal_verify_checkpoint(cnote, vkey, &out) }); err != nil {
		return info, err
	}
	return info, takeJSON(out, &info)
}

// VerifyCosigned verifies a checkpoint note carrying witness cosignatures (C2SP
// tlog-cosignature v1): the log's signature by verifierKey, and valid cosignatures of quorum
// distinct witnesses among witnessKeys (a negative quorum asks for all of them). A failed
// signature or quorum is ErrVerificationFailed; a note or key that does not parse,
// ErrMalformed.
func VerifyCosigned(note, verifierKey string, witnessKeys []string, quorum int) (CosignedCheckpoint, error) {
	var c CosignedCheckpoint
	if witnessKeys == nil {
		witnessKeys = []string{}
	}
	keys, err := json.Marshal(witnessKeys)
	if err != nil {
		return c, err
	}
	var cs cstrs
	defer cs.free()
	cnote, vkey, err := checkpointArgs(&cs, &SignedCheckpoint{Note: note, VerifierKey: verifierKey})
	if err != nil {
		return c, err
	}
	ckeys, err := cs.add(string(keys), "witness keys", CodeMalformed)
	if err != nil {
		return c, err
	}
	var out *C.char
	if err := call(func() C.trailseal_status {
		return C.trailseal_verify_cosigned(cnote, vkey, ckeys, C.int64_t(quorum), &out)
	}); err != nil {
		return c, err
	}
	return c, takeJSON(out, &c)
}

// VerifyTimestampToken checks an RFC 3161 time-stamp token (DER) over note (a checkpoint
// note as the log signed it) against the trusted CA certificate caPEM, and returns what it
// attests. A token that does not check out is ErrVerificationFailed; a CA certificate that
// does not parse, ErrMalformed.
func VerifyTimestampToken(token, note []byte, caPEM string) (AttestedTime, error) {
	var a AttestedTime
	var cs cstrs
	defer cs.free()
	cca, err := cs.add(caPEM, "CA certificate", CodeMalformed)
	if err != nil {
		return a, err
	}
	var out *C.char
	if err := call(func() C.trailseal_status {
		return C.trailseal_verify_timestamp_token(bytesPtr(token), C.size_t(len(token)),
			bytesPtr(note), C.size_t(len(note)), cca, &out)
	}); err != nil {
		return a, err
	}
	return a, takeJSON(out, &a)
}

// CanonicalJSON returns the RFC 8785 canonical JSON of v (JSON text as []byte,
// json.RawMessage or string, or any value json.Marshal encodes): for an entry as recorded,
// its leaf bytes. Repeated keys are ErrMalformed.
func CanonicalJSON(v any) ([]byte, error) {
	text, err := jsonText(v, "value")
	if err != nil {
		return nil, err
	}
	ctext := C.CString(string(text))
	defer C.free(unsafe.Pointer(ctext))
	var out *C.char
	if err := call(func() C.trailseal_status { return C.trailseal_canonical_json(ctext, &out) }); err != nil {
		return nil, err
	}
	return []byte(take(out)), nil
}

// LeafHash returns H(0x00 || leaf) under hash ("" for the core's default, SHA-256).
func LeafHash(hash HashAlg, leaf []byte) (Hash, error) {
	var chash *C.char
	if hash != "" {
		var err error
		chash, err = cString(string(hash), "hash", CodeInvalidArgument)
		if err != nil {
			return Hash{}, err
		}
		defer C.free(unsafe.Pointer(chash))
	}
	var out *C.char
	err := call(func() C.trailseal_status {
		return C.trailseal_leaf_hash(chash, bytesPtr(leaf), C.size_t(len(leaf)), &out)
	})
	runtime.KeepAlive(leaf)
	if err != nil {
		return Hash{}, err
	}
	return ParseHash(take(out))
}
