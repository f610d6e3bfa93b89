"""Type stubs of the native module ``trailseal._trailseal`` (checked against it by the tests)."""

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypedDict, final

__version__: str
__all__ = [
    "AlreadyExistsError",
    "Checkpoint",
    "ClosedError",
    "IdConflictError",
    "InconsistentError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidEntryError",
    "IoError",
    "Ledger",
    "LedgerLockedError",
    "MalformedError",
    "NotALedgerError",
    "NotFoundError",
    "OutOfRangeError",
    "Receipt",
    "RuleViolationError",
    "Signer",
    "StorageError",
    "TamperedError",
    "TrailsealError",
    "VerificationError",
    "WrongKindError",
    "__version__",
    "_error_codes",
    "check_opening",
    "check_rules",
    "compact",
    "detect_ci",
    "verify_bundle",
    "verify_bundle_with_tsa",
    "verify_checkpoint",
    "verify_cosigned",
    "verify_consistency",
    "verify_inclusion",
    "verify_timestamp_token",
]

_HashName = Literal["blake3", "sha256"]
_Kind = Literal["entries", "raw"]
_Sharing = Literal["auto", "exclusive", "single-writer", "multi-writer"]
_Path = str | os.PathLike[str]
_Bytes = bytes | bytearray

class _InclusionProof(TypedDict):
    hash: _HashName
    index: int
    tree_size: int
    leaf_hash: str
    root: str
    path: list[str]

class _ConsistencyProof(TypedDict):
    hash: _HashName
    old_size: int
    new_size: int
    old_root: str
    new_root: str
    path: list[str]

class _ReceiptDict(TypedDict, total=False):
    index: int
    leaf_hash: str
    tree_size: int
    root: str
    time: str

class _StoredCheckpoint(TypedDict):
    size: int
    note: str
    verifier_key: str

class _Found(TypedDict):
    index: int
    entry: dict[str, Any]

class _Page(TypedDict):
    entries: list[_Found]
    next_cursor: str | None

class _TraceNode(TypedDict):
    index: int
    entry: dict[str, Any]
    links: list[int]

class _Trace(TypedDict):
    root: int
    nodes: list[_TraceNode]
    unresolved: list[str]

class _Why(TypedDict):
    index: int
    entry: dict[str, Any]
    authz: dict[str, Any] | None
    policy: _Found | None
    approvals: list[_Found]

class _VerifyReport(TypedDict):
    ok: Literal[True]
    size: int
    root: str
    nodes_checked: int
    checkpoints_checked: int
    cosignatures_checked: int
    witnessed_size: int | None
    consistent_with_checkpoint: int | None
    postings_checked: int
    indexes_checked: bool

class _CheckpointDict(TypedDict):
    origin: str
    size: int
    root: str
    extensions: list[str]

class _GatePolicy(TypedDict, total=False):
    min_approvals: int
    approver_roles: list[str]
    forbid_self_approval: bool
    require: list[str]

class _GateRequirement(TypedDict):
    name: str
    met: bool
    evidence: list[int]

class _GateResult(TypedDict):
    passed: bool
    requirements: list[_GateRequirement]

class _QueryDict(TypedDict, total=False):
    actor: str | None
    via: str | None
    action: str | None
    subject: str | None
    attrs: Mapping[str, str] | None
    refs: Sequence[str] | str | None
    decision: str | None
    policy: str | None
    links_to: int | None
    since: str | None
    until: str | None
    order: Literal["newest", "oldest"] | None
    limit: int | None
    cursor: str | None

class _BundleReport(TypedDict):
    ok: Literal[True]
    origin: str
    hash: _HashName
    tree_size: int
    root: str
    key_name: str
    entries: list[_Found]

class _AttestedTime(TypedDict):
    time: str
    tsa: str
    serial: str
    policy: str

class _TimestampedCheckpoint(TypedDict):
    checkpoint: int
    size: int
    attested: _AttestedTime
    requested: bool
    token: str

class _PrunedAt(TypedDict):
    by: int
    at: str
    rules_version: str

class _PrunedEntry(TypedDict):
    index: int
    leaf_hash: str
    pruned: _PrunedAt

class _TimedBundleReport(_BundleReport):
    attested: _AttestedTime

class _Latency(TypedDict):
    waits: int
    median_seconds: int | float | None
    p90_seconds: int | float | None

class _Wait(TypedDict):
    subject: str
    request: int
    approval: int
    approver: str
    seconds: int | float

class _ApproverCount(TypedDict):
    approver: str
    approvals: int

class _Week(TypedDict):
    week: str
    changes: int
    break_glass: int
    approvals: int

class _Report(TypedDict):
    since: str | None
    approval_latency: _Latency
    waits: list[_Wait]
    approvals_by_approver: list[_ApproverCount]
    weeks: list[_Week]

class _CiContext(TypedDict):
    system: Literal[
        "github-actions", "gitlab-ci", "azure-pipelines", "jenkins", "buildkite", "circleci"
    ]
    actor: str
    via: list[str]
    repository: str | None
    commit: str | None
    ref: str | None
    workflow: str | None
    job: str | None
    step: str | None
    shard: str | None
    run_id: str
    run_number: str | None
    run_url: str | None
    extra: dict[str, str]

class _CiRecorded(TypedDict):
    index: int
    leaf_hash: str
    tree_size: int
    root: str
    time: str
    already_recorded: bool

class _GitConflict(TypedDict):
    commit: str
    index: int

class _GitImportReport(TypedDict):
    repository: str
    head: str | None
    resumed_after: str | None
    examined: int
    recorded: int
    already_recorded: int
    conflicts_total: int
    conflicts: list[_GitConflict]
    shallow: bool
    first_index: int | None
    last_index: int | None

_StrPairs = Mapping[str, str] | Sequence[tuple[str, str]]
_EventFormat = Literal["cdevents", "intoto", "in-toto", "ocsf"]

# --- errors -------------------------------------------------------------------------------

class TrailsealError(Exception):
    """Base class of every trailseal error."""

    code: str
    """The core's stable code, e.g. ``"invalid_entry"``."""
    status: int
    """Its number (the C status value), 1 to 18."""

class InvalidEntryError(TrailsealError):
    field: str
    rule: str

class IdConflictError(TrailsealError):
    id: str
    index: int

class MalformedError(TrailsealError): ...
class VerificationError(TrailsealError): ...

class TamperedError(TrailsealError):
    location: str

class InconsistentError(TrailsealError): ...
class OutOfRangeError(TrailsealError): ...
class InvalidArgumentError(TrailsealError): ...
class WrongKindError(TrailsealError): ...
class AlreadyExistsError(TrailsealError): ...
class NotFoundError(TrailsealError): ...
class NotALedgerError(TrailsealError): ...
class LedgerLockedError(TrailsealError): ...
class StorageError(TrailsealError): ...
class IoError(TrailsealError): ...
class InternalError(TrailsealError): ...
class ClosedError(TrailsealError, ValueError): ...

class RuleViolationError(TrailsealError):
    rule_class: str
    requirement: str
    rules_version: str

# --- values -------------------------------------------------------------------------------

@final
class Receipt:
    """Where an appended leaf went and the tree it made; hashes are lowercase hex."""

    @property
    def index(self) -> int: ...
    @property
    def leaf_hash(self) -> str: ...
    @property
    def tree_size(self) -> int: ...
    @property
    def root(self) -> str: ...
    @property
    def time(self) -> str | None: ...
    def to_dict(self) -> _ReceiptDict: ...
    def __eq__(self, other: object, /) -> bool: ...

@final
class Signer:
    """An Ed25519 checkpoint signer (Go ``sumdb/note`` key format). Never prints its secret."""

    @staticmethod
    def generate(name: str) -> Signer: ...
    @staticmethod
    def from_string(skey: str) -> Signer: ...
    @staticmethod
    def from_seed(name: str, seed: _Bytes) -> Signer: ...
    @staticmethod
    def open(spec: str, name: str) -> Signer:
        """A key held outside the process: ``ssh-agent:<comment or SHA256 fingerprint>`` or
        ``pkcs11:<RFC 7512 URI>``; the secret never enters the process."""
    @property
    def name(self) -> str: ...
    @property
    def key_hash(self) -> int: ...
    @property
    def verifier_key(self) -> str: ...
    def to_string_private(self) -> str:
        """The secret signer key string: anyone holding it can sign as this key (a held key
        has none: InvalidArgumentError)."""

@final
class Checkpoint:
    """A tree head: origin, size, root (hex) and extension lines."""

    def __new__(
        cls, origin: str, size: int, root: str, extensions: Sequence[str] = ...
    ) -> Checkpoint: ...
    @property
    def origin(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def root(self) -> str: ...
    @property
    def extensions(self) -> list[str]: ...
    def to_body(self) -> str: ...
    def to_dict(self) -> _CheckpointDict: ...
    def sign(self, signer: Signer) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...

# --- the ledger ---------------------------------------------------------------------------

@final
class Ledger:
    """An open ledger file; share one across threads. Also a context manager."""

    @staticmethod
    def create(
        path: _Path,
        origin: str,
        hash: _HashName | None = None,
        raw: bool = False,
        durable: bool = True,
        max_entry_bytes: int | None = None,
        verifier_key: str | None = None,
        share: _Sharing | None = None,
        personal: Sequence[str] | None = None,
    ) -> Ledger:
        """Create a ledger; ``verifier_key`` records the only key its checkpoints may be signed by;
        ``personal`` the fields sealed as commitments, erasable (SPEC section 10)."""
    @staticmethod
    def open(
        path: _Path,
        wait: float | None = None,
        durable: bool = True,
        share: _Sharing | None = None,
        read_only: bool = False,
    ) -> Ledger:
        """Open a ledger; ``share`` defaults to "auto" (alone until another handle opens the file, then "multi-writer"; "exclusive" when not durable)."""
    @property
    def origin(self) -> str: ...
    @property
    def hash(self) -> _HashName: ...
    @property
    def kind(self) -> _Kind: ...
    @property
    def path(self) -> Path: ...
    @property
    def max_entry_bytes(self) -> int: ...
    @property
    def verifier_key(self) -> str | None:
        """The verifier key recorded at creation, or None."""
    @property
    def sharing(self) -> _Sharing: ...
    @property
    def sharing_now(self) -> _Sharing: ...
    @property
    def read_only(self) -> bool: ...
    @property
    def closed(self) -> bool: ...
    def append(self, entry: Mapping[str, Any]) -> Receipt: ...
    def append_batch(self, entries: Sequence[Mapping[str, Any]]) -> list[Receipt]: ...
    def append_raw(self, leaf: _Bytes) -> Receipt: ...
    def append_raw_batch(self, leaves: Sequence[_Bytes]) -> list[Receipt]: ...
    def sync(self) -> None: ...
    def get(self, index: int) -> dict[str, Any]: ...
    def get_json(self, index: int) -> str:
        """The exact leaf text (canonical JSON): hashes to the leaf hash."""
    def get_raw(self, index: int) -> bytes: ...
    def leaf_hash(self, index: int) -> str: ...
    def __len__(self) -> int: ...
    def __bool__(self) -> Literal[True]: ...
    def root(self, size: int | None = None) -> str: ...
    def prove_inclusion(self, index: int, size: int | None = None) -> _InclusionProof: ...
    def prove_consistency(self, old: int, size: int | None = None) -> _ConsistencyProof: ...
    def checkpoint(self, signer: Signer, size: int | None = None) -> str: ...
    def rotate_key(self, old: Signer, new: Signer, actor: str = "trailseal") -> dict[str, Any]:
        """Put ``new`` in force in place of ``old``: a key.rotated entry and a checkpoint over
        it signed by both keys."""
    def verifier_key_in_force(self) -> str | None: ...
    def publish_rules(
        self,
        document: Mapping[str, Any] | str,
        actor: str,
        authz: Mapping[str, Any] | None = None,
        links: Sequence[Mapping[str, Any]] | None = None,
    ) -> Receipt:
        """Append a rules.published entry: the document governs every entry after it."""
    def rules_versions(self) -> list[dict[str, Any]]: ...
    def rules_at(self, index: int | None = None) -> dict[str, Any] | None: ...
    @property
    def record_refusals(self) -> bool: ...
    @record_refusals.setter
    def record_refusals(self, yes: bool) -> None: ...
    def delivery_report(self, threshold: float | None = None) -> dict[str, Any]: ...
    def publish_retention_rules(
        self, document: Mapping[str, Any] | str, actor: str, authz: Mapping[str, Any] | str
    ) -> Receipt: ...
    def place_hold(
        self, id: str, covers: Mapping[str, Any] | str, actor: str, authz: Mapping[str, Any] | str
    ) -> Receipt: ...
    def release_hold(self, id: str, actor: str, authz: Mapping[str, Any] | str) -> Receipt: ...
    def retention_rules_at(self, index: int | None = None) -> dict[str, Any] | None: ...
    def legal_holds(self) -> list[dict[str, Any]]: ...
    def retention_plan(self, at: str | None = None) -> dict[str, Any]: ...
    def erase(
        self,
        select: Mapping[str, Any] | str,
        reason: str,
        actor: str,
        authz: Mapping[str, Any] | str,
        legal_basis: str | None = None,
        request: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Erase the personal values of the entries ``select`` names, with an erasure record."""
    def openings(self, index: int) -> dict[str, Any] | None: ...
    def scrub_free_pages(self) -> None: ...
    @property
    def personal_fields(self) -> list[str]: ...
    def prune(
        self, before: str, actor: str, authz: Mapping[str, Any] | str, dry_run: bool = False
    ) -> dict[str, Any]: ...
    def pruned(self, index: int) -> _PrunedEntry | None: ...
    def checkpoints(self) -> list[_StoredCheckpoint]: ...
    def timestamp_checkpoint(
        self,
        tsa_url: str,
        tsa_ca: str | _Bytes,
        checkpoint: int | None = None,
        signer: Signer | None = None,
        timeout: float = 30.0,
    ) -> _TimestampedCheckpoint:
        """Have an RFC 3161 time-stamp authority attest a kept checkpoint's time; keep the token."""
    def checkpoint_timestamp(self, seq: int) -> bytes | None: ...
    def query(
        self,
        *,
        actor: str | None = None,
        via: str | None = None,
        action: str | None = None,
        subject: str | None = None,
        attrs: Mapping[str, str] | None = None,
        refs: Sequence[str] | str | None = None,
        decision: str | None = None,
        policy: str | None = None,
        links_to: int | None = None,
        since: str | None = None,
        until: str | None = None,
        occurred_since: str | None = None,
        occurred_until: str | None = None,
        order: Literal["newest", "oldest"] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> _Page:
        """Entries matching every given filter (AND), one page; ``subject`` is ``"TYPE:ID"``."""
    def trace(self, index: int, forward: bool = False) -> _Trace: ...
    def why(self, index: int) -> _Why: ...
    def verify(
        self,
        checkpoint: str | None = None,
        verifier_key: str | None = None,
        indexes: bool = False,
        witness_keys: Sequence[str] | None = None,
        quorum: int | None = None,
    ) -> _VerifyReport:
        """Check the whole ledger; ``indexes=True`` also checks every query-index posting against its entry."""
    def witness(
        self,
        signer: Signer,
        witnesses: Sequence[tuple[str, str]],
        quorum: int | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Ask C2SP witnesses (``(url, witness_vkey)`` pairs) to cosign the latest checkpoint."""
    def gate(self, subject: str, policy: _GatePolicy | Mapping[str, Any] | str) -> _GateResult:
        """Evaluate a release gate for ``subject`` (``"TYPE:ID"``)."""
    def record_gate(
        self,
        subject: str,
        policy: _GatePolicy | Mapping[str, Any] | str,
        result: _GateResult | Mapping[str, Any] | str,
        actor: str,
    ) -> Receipt:
        """Record ``result`` (re-evaluated; a stale or edited one is refused) as gate.passed/failed."""
    def bundle(
        self,
        *,
        subject: str | None = None,
        index: int | None = None,
        forward: bool = False,
        depth: int | None = None,
        ancestry: bool = False,
        query: _QueryDict | Mapping[str, Any] | str | None = None,
        indexes: Sequence[int] | None = None,
        signer: Signer | None = None,
        checkpoint: str | None = None,
        verifier_key: str | None = None,
    ) -> str:
        """An evidence bundle file's text (write it byte for byte)."""
    def report(
        self, since: str | None = None, change_actions: Sequence[str] | None = None
    ) -> _Report: ...
    def record_ci(
        self,
        action: str,
        subject: str | None = None,
        attrs: _StrPairs | None = None,
        refs: _StrPairs | None = None,
        payload: Any = None,
        env: _StrPairs | None = None,
    ) -> _CiRecorded:
        """Record one CI step from the job's environment (default ``os.environ``); a retry once."""
    def import_git(
        self,
        repo: _Path = ".",
        since: str | None = None,
        progress: Callable[[int, int], object] | None = None,
        *,
        rev: str | None = None,
        name: str | None = None,
        signatures: bool = True,
        batch: int = 1000,
    ) -> _GitImportReport:
        """Record a git repository's commits, incrementally; ``progress(done, total)``."""
    def import_events(self, format: _EventFormat | str, data: str | _Bytes) -> list[Receipt]:
        """Map CDEvents / in-toto / OCSF events onto entries, all or nothing."""
    def close(self) -> None: ...
    def __enter__(self) -> Ledger: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> Literal[False]: ...

# --- ledger-free verification ---------------------------------------------------------------

def verify_inclusion(
    proof: _InclusionProof | Mapping[str, Any] | str,
    leaf: str | _Bytes | Mapping[str, Any] | None = None,
    checkpoint: str | None = None,
    verifier_key: str | None = None,
) -> None: ...
def verify_consistency(
    proof: _ConsistencyProof | Mapping[str, Any] | str,
    checkpoint: str | None = None,
    verifier_key: str | None = None,
) -> None: ...
def verify_checkpoint(note: str, verifier_key: str) -> Checkpoint: ...
def check_opening(commitment: str, salt: str, value: Any) -> None:
    """Raise VerificationError unless ``value`` under ``salt`` gives ``commitment``."""
def compact(path: _Path) -> bool: ...
def check_rules(document: Mapping[str, Any] | str, entry: Mapping[str, Any] | str) -> dict[str, Any]:
    """Judge an entry against a rules document without a ledger (a dry run)."""
def verify_cosigned(
    note: str, verifier_key: str, witness_keys: Sequence[str], quorum: int | None = None
) -> dict[str, Any]:
    """Open a cosigned checkpoint: the log's signature and a quorum of witness cosignatures."""
def verify_bundle(text: str | _Bytes, verifier_key: str) -> _BundleReport:
    """Check an evidence bundle with nothing but the verifier key (no ledger)."""
def verify_bundle_with_tsa(
    text: str | _Bytes, verifier_key: str, tsa_ca: str | _Bytes
) -> _TimedBundleReport:
    """``verify_bundle``, and its time-stamp token checked against the CA (PEM)."""
def verify_timestamp_token(
    token: str | _Bytes, note: str | _Bytes, tsa_ca: str | _Bytes
) -> _AttestedTime:
    """Check an RFC 3161 token (DER) over a checkpoint note against a CA (PEM), offline."""
def detect_ci(env: _StrPairs | None = None) -> _CiContext:
    """The CI job's context from its environment (default ``os.environ``)."""
def _error_codes() -> list[tuple[str, int, type[TrailsealError]]]: ...
