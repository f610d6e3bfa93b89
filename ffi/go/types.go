package trailseal

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
)

// CurrentSize stands for "the current tree size" wherever a method takes an optional tree
// size (RootAt, ProveInclusion, ProveConsistency, Checkpoint). It is the C
// TRAILSEAL_SIZE_CURRENT.
const CurrentSize uint64 = math.MaxUint64

// HashAlg names a tree hash (SPEC section 1).
type HashAlg string

// The tree hashes. The zero value means the default, BLAKE3.
const (
	Blake3 HashAlg = "blake3"
	SHA256 HashAlg = "sha256" // bit-for-bit RFC 6962 / RFC 9162
)

// Sharing names how a handle shares its ledger file with other handles and processes. Every
// handle open on a file at once must use the same mode. The library parses the name, so any
// spelling it accepts ("_" for "-") works here too.
type Sharing string

// The sharing modes. The zero value means the default: Auto for durable handles,
// Exclusive for NotDurableUntilSync ones (the only mode they accept).
const (
	// Auto: hold the file alone until another handle or process opens it, then share it as
	// MultiWriter.
	Auto Sharing = "auto"
	// Exclusive: a writing handle holds the file alone (others fail with ErrLocked);
	// read-only handles share it with each other only.
	Exclusive Sharing = "exclusive"
	// SingleWriter: one handle writes; any number read beside it and follow its commits.
	SingleWriter Sharing = "single-writer"
	// MultiWriter: any number of handles read and append at once, each following the
	// others' commits.
	MultiWriter Sharing = "multi-writer"
)

// Hash is a 32-byte tree hash (leaf, node or root). Its text and JSON form is 64 lowercase
// hex digits.
type Hash [32]byte

// String returns the 64 lowercase hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText writes the 64 lowercase hex digits.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads 64 hex digits.
func (h *Hash) UnmarshalText(text []byte) error {
	parsed, err := ParseHash(string(text))
	if err != nil {
		return err
	}
	*h = parsed
	return nil
}

// ParseHash reads 64 hex digits; anything else is an ErrMalformed error.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 64 {
		return h, &Error{Code: CodeMalformed, Message: fmt.Sprintf("malformed hash: %d hex digits, want 64", len(s))}
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, &Error{Code: CodeMalformed, Message: "malformed hash: " + err.Error(), cause: err}
	}
	return h, nil
}

// Receipt is what an append returns; its JSON is {"index", "leaf_hash", "tree_size",
// "root", "time"}.
type Receipt struct {
	Index    uint64 `json:"index"`
	LeafHash Hash   `json:"leaf_hash"`
	TreeSize uint64 `json:"tree_size"`      // Index + 1
	Root     Hash   `json:"root"`           // the root at TreeSize
	Time     string `json:"time,omitempty"` // the entry's recorded time (RFC 3339, nine fractional digits); empty for raw leaves
}

// InclusionProof proves that a leaf is in a tree (RFC 9162 section 2.1.3). It marshals to
// the SPEC JSON form, byte for byte what the library writes.
type InclusionProof struct {
	Hash     HashAlg `json:"hash"`
	Index    uint64  `json:"index"`
	TreeSize uint64  `json:"tree_size"`
	LeafHash Hash    `json:"leaf_hash"`
	Root     Hash    `json:"root"`
	Path     []Hash  `json:"path"` // from the leaf's sibling upward
}

// MarshalJSON writes the SPEC form (a nil Path as []).
func (p InclusionProof) MarshalJSON() ([]byte, error) {
	type plain InclusionProof
	if p.Path == nil {
		p.Path = []Hash{}
	}
	return json.Marshal(plain(p))
}

// Verify checks the proof's path leads from LeafHash to Root; see VerifyInclusion.
func (p InclusionProof) Verify() error { return VerifyInclusion(p, nil, nil) }

// ConsistencyProof proves that the tree of OldSize leaves is a prefix of the tree of NewSize
// leaves (RFC 9162 section 2.1.4). It marshals to the SPEC JSON form.
type ConsistencyProof struct {
	Hash    HashAlg `json:"hash"`
	OldSize uint64  `json:"old_size"`
	NewSize uint64  `json:"new_size"`
	OldRoot Hash    `json:"old_root"`
	NewRoot Hash    `json:"new_root"`
	Path    []Hash  `json:"path"`
}

// MarshalJSON writes the SPEC form (a nil Path as []).
func (p ConsistencyProof) MarshalJSON() ([]byte, error) {
	type plain ConsistencyProof
	if p.Path == nil {
		p.Path = []Hash{}
	}
	return json.Marshal(plain(p))
}

// Verify checks the proof; see VerifyConsistency.
func (p ConsistencyProof) Verify() error { return VerifyConsistency(p, nil) }

// SignedCheckpoint is a checkpoint note held outside the ledger and the verifier key of its
// signer: what an auditor trusts.
type SignedCheckpoint struct {
	Note        string // the signed note text (C2SP tlog-checkpoint)
	VerifierKey string // <name>+<hash>+<base64>, Go sumdb/note format
}

// CheckpointInfo is what a verified checkpoint commits to.
type CheckpointInfo struct {
	Origin     string   `json:"origin"`
	Size       uint64   `json:"size"`
	Root       Hash     `json:"root"`
	Extensions []string `json:"extensions"`
}

// Cosignature is one witness's valid cosignature of a checkpoint (C2SP tlog-cosignature v1).
type Cosignature struct {
	Witness   string `json:"witness"`   // the witness's name
	KeyHash   string `json:"key_hash"`  // its key id, as in the note line
	Timestamp uint64 `json:"timestamp"` // POSIX seconds, by the witness's clock
	Line      string `json:"line"`      // the cosignature line of the note
}

// CosignedCheckpoint is what VerifyCosigned found: the checkpoint and the cosignatures of
// the policy's witnesses that verified.
type CosignedCheckpoint struct {
	Checkpoint   CheckpointInfo `json:"checkpoint"`
	Cosignatures []Cosignature  `json:"cosignatures"`
}

// AttestedTime is what a time-stamp token attests (VerifyTimestampToken).
type AttestedTime struct {
	Time   string `json:"time"`   // the TSA's genTime (RFC 3339): the note existed no later
	TSA    string `json:"tsa"`    // the subject of the TSA certificate that signed the token
	Serial string `json:"serial"` // the token's serial number, lowercase hex
	Policy string `json:"policy"` // the TSA policy it was issued under (an OID)
}

// StoredCheckpoint is a checkpoint the ledger signed and keeps.
type StoredCheckpoint struct {
	Size        uint64 `json:"size"`
	Note        string `json:"note"`
	VerifierKey string `json:"verifier_key"`
}

// VerifyReport is what a successful Ledger.Verify checked (the JSON of `trailseal verify`).
type VerifyReport struct {
	OK                 bool   `json:"ok"`
	Size               uint64 `json:"size"` // leaves re-hashed
	Root               Hash   `json:"root"`
	NodesChecked       uint64 `json:"nodes_checked"`
	CheckpointsChecked uint64 `json:"checkpoints_checked"`
	// Kept witness cosignatures re-verified.
	CosignaturesChecked uint64 `json:"cosignatures_checked"`
	// The largest checkpoint size that met the witness policy of VerifyOptions.Witnesses.
	WitnessedSize *uint64 `json:"witnessed_size"`
	// The size of the outside checkpoint the ledger was found consistent with, or nil.
	ConsistentWithCheckpoint *uint64 `json:"consistent_with_checkpoint"`
	// Query-index postings checked (their structure; with VerifyOptions.Indexes, also
	// against the entries).
	PostingsChecked uint64 `json:"postings_checked"`
	// True if the postings were checked against the entries (VerifyOptions.Indexes on a
	// ledger of entries; a raw ledger has no indexes).
	IndexesChecked bool `json:"indexes_checked"`
}

// LedgerInfo is what never changes about a ledger.
type LedgerInfo struct {
	Path          string  `json:"path"`
	Origin        string  `json:"origin"`
	Hash          HashAlg `json:"hash"`
	Kind          string  `json:"kind"` // "entries" or "raw"
	MaxEntryBytes uint64  `json:"max_entry_bytes"`
	Sharing       Sharing `json:"sharing"` // the mode this handle was opened in, the default resolved
	// The mode the file is open in at the time of Info: for Auto, Exclusive until another
	// handle or process asked to share it, MultiWriter from then on.
	SharingNow Sharing `json:"sharing_now"`
	ReadOnly   bool    `json:"read_only"` // this handle was opened read-only
}

// Entry is an audit entry (SPEC section 3). Append takes it, or any other value that
// json.Marshal turns into an entry object, or JSON text.
type Entry struct {
	V          int               `json:"v,omitempty"`    // set by the ledger; leave 0 when appending
	ID         string            `json:"id,omitempty"`   // the caller's unique event id: a retried append is recorded once
	Time       string            `json:"time,omitempty"` // set by the ledger; leave empty when appending
	Actor      Actor             `json:"actor"`
	Action     string            `json:"action"` // e.g. "deploy.succeeded": ^[a-z0-9][a-z0-9._:-]{0,127}$
	Subject    Subject           `json:"subject"`
	Authz      *Authz            `json:"authz,omitempty"`
	Change     *Change           `json:"change,omitempty"`
	Links      []Link            `json:"links,omitempty"`
	OccurredAt string            `json:"occurred_at,omitempty"` // RFC 3339, as the source says
	Attrs      map[string]string `json:"attrs,omitempty"`
	Payload    json.RawMessage   `json:"payload,omitempty"` // any JSON the event carries
}

// Actor is who did it.
type Actor struct {
	ID     string   `json:"id"`
	Role   string   `json:"role,omitempty"`
	Tenant string   `json:"tenant,omitempty"`
	Via    []string `json:"via,omitempty"` // the delegation chain, outermost first
}

// Subject is what it was done to.
type Subject struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Authz is why it was allowed.
type Authz struct {
	Decision      string `json:"decision"` // "allow", "break_glass" or "override" (the last two need a Reason)
	Policy        string `json:"policy"`
	PolicyVersion string `json:"policy_version,omitempty"`
	Reason        string `json:"reason,omitempty"`
}

// Change is what changed.
type Change struct {
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// Link is evidence an entry rests on: an earlier entry (LinkIndex) or an external id
// (LinkRef).
type Link struct {
	Rel   string  `json:"rel"`
	Index *uint64 `json:"index,omitempty"`
	Ref   string  `json:"ref,omitempty"`
}

// LinkIndex links to the earlier entry at index.
func LinkIndex(rel string, index uint64) Link { return Link{Rel: rel, Index: &index} }

// LinkRef links to an external id such as "git:<sha>" or "oci:sha256:<digest>".
func LinkRef(rel, ref string) Link { return Link{Rel: rel, Ref: ref} }
