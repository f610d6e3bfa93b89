package trailseal

// #include <stdint.h>
// #include <trailseal.h>
import "C"

import "io/fs"

// Code is a trailseal error code: the C trailseal_status value. 1 to 18 are the core's error
// codes (the README's error table); 100 and up are failures of the C boundary. Codes are
// never renumbered or reused.
type Code uint32

// The codes, in numeric order.
const (
	CodeInvalidEntry       Code = 1   // an entry broke a SPEC section 3 rule (the message names the field)
	CodeIDConflict         Code = 2   // an id already recorded with different content
	CodeMalformed          Code = 3   // a proof, key, note, hash or JSON that does not parse
	CodeVerificationFailed Code = 4   // a well-formed proof or signature that does not verify
	CodeTampered           Code = 5   // verify found stored data that does not hash right
	CodeInconsistent       Code = 6   // the ledger disagrees with an outside checkpoint (rolled back or forked)
	CodeOutOfRange         Code = 7   // an index or size beyond the tree
	CodeInvalidArgument    Code = 8   // an impossible argument
	CodeWrongKind          Code = 9   // an entry call on a raw ledger, or the reverse
	CodeAlreadyExists      Code = 10  // Create over an existing file
	CodeNotFound           Code = 11  // no such ledger file
	CodeNotALedger         Code = 12  // another program's file, random bytes, an unknown format
	CodeLocked             Code = 13  // another handle or process holds the ledger exclusively
	CodeStorage            Code = 14  // the storage engine failed
	CodeIO                 Code = 15  // an operating-system I/O error
	CodeInternal           Code = 16  // a bug in trailseal
	CodeClosed             Code = 17  // a method of a Ledger or Signer after Close
	CodeRuleViolation      Code = 18  // an entry broke the rules in force (the message names class, requirement, rules version)
	CodeNullArgument       Code = 100 // a NULL pointer reached the C boundary (a bug in this package)
	CodeInvalidUTF8        Code = 101 // a string that is not UTF-8
	CodePanic              Code = 102 // trailseal panicked; the panic was caught at the C boundary
)

// String is the code's snake_case name, e.g. "invalid_entry" (the JS err.code, the Python
// exception's code), or "unknown".
func (c Code) String() string {
	return C.GoString(C.trailseal_status_name(C.uint32_t(c)))
}

// Error is a failed trailseal call: its code and message.
type Error struct {
	Code    Code   // what failed; match with errors.Is against the Err* sentinels
	Message string // for people; may be reworded between versions
	cause   error
}

// Error formats as "trailseal: <message> [<code>]".
func (e *Error) Error() string {
	if e.Message == "" {
		return "trailseal: " + e.Code.String()
	}
	return "trailseal: " + e.Message + " [" + e.Code.String() + "]"
}

// Is reports whether target is the sentinel of e's code (an *Error with that code and no
// message). ErrNotFound also matches fs.ErrNotExist, and ErrAlreadyExists fs.ErrExist.
func (e *Error) Is(target error) bool {
	if t, ok := target.(*Error); ok {
		return t.Message == "" && t.Code == e.Code
	}
	switch target {
	case fs.ErrNotExist:
		return e.Code == CodeNotFound
	case fs.ErrExist:
		return e.Code == CodeAlreadyExists
	}
	return false
}

// Unwrap returns the Go error behind e, if any (e.g. a json.Marshal failure).
func (e *Error) Unwrap() error { return e.cause }

// The sentinels, one per code: errors.Is(err, ErrTampered). A method of a Ledger or Signer
// after Close returns ErrClosed itself, so err == ErrClosed holds too.
var (
	ErrInvalidEntry       = &Error{Code: CodeInvalidEntry}
	ErrIDConflict         = &Error{Code: CodeIDConflict}
	ErrMalformed          = &Error{Code: CodeMalformed}
	ErrVerificationFailed = &Error{Code: CodeVerificationFailed}
	ErrTampered           = &Error{Code: CodeTampered}
	ErrInconsistent       = &Error{Code: CodeInconsistent}
	ErrOutOfRange         = &Error{Code: CodeOutOfRange}
	ErrInvalidArgument    = &Error{Code: CodeInvalidArgument}
	ErrWrongKind          = &Error{Code: CodeWrongKind}
	ErrAlreadyExists      = &Error{Code: CodeAlreadyExists}
	ErrNotFound           = &Error{Code: CodeNotFound}
	ErrNotALedger         = &Error{Code: CodeNotALedger}
	ErrLocked             = &Error{Code: CodeLocked}
	ErrStorage            = &Error{Code: CodeStorage}
	ErrIO                 = &Error{Code: CodeIO}
	ErrInternal           = &Error{Code: CodeInternal}
	ErrClosed             = &Error{Code: CodeClosed}
	ErrRuleViolation      = &Error{Code: CodeRuleViolation}
	ErrNullArgument       = &Error{Code: CodeNullArgument}
	ErrInvalidUTF8        = &Error{Code: CodeInvalidUTF8}
	ErrPanic              = &Error{Code: CodePanic}
)
