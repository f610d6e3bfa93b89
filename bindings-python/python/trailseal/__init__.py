"""trailseal: an embedded, append-only, tamper-evident audit ledger.

Every event is a leaf of an RFC 9162 Merkle tree stored in one file; the ledger hands out
inclusion and consistency proofs and Ed25519-signed C2SP checkpoints, so anyone can check the
record with nothing but a public key.

    import trailseal
    with trailseal.Ledger.create("audit.redb", origin="example.com/audit") as led:
        r = led.append({"actor": {"id": "alice"}, "action": "deploy.succeeded",
                        "subject": {"type": "service", "id": "payments-api"}})
        trailseal.verify_inclusion(led.prove_inclusion(r.index), leaf=led.get_json(r.index))

The auditor's questions are one call each: ``led.query(...)``, ``led.trace(i)``,
``led.why(i)``, ``led.gate(subject, policy)`` (and ``led.record_gate``),
``led.bundle(subject=..., signer=...)`` with the ledger-free ``trailseal.verify_bundle``, and
``led.report(since=...)``. ``led.timestamp_checkpoint(tsa_url, tsa_ca)`` has an RFC 3161
time-stamp authority attest a checkpoint's time; ``trailseal.verify_timestamp_token`` and
``trailseal.verify_bundle_with_tsa`` check such tokens offline.

Evidence flows in from the tools that already know what happened: ``trailseal.detect_ci()``
reads the CI job's environment, ``led.record_ci(action, ...)`` records one CI step (a retried
step once), ``led.import_git(repo)`` records a repository's commits incrementally, and
``led.import_events(format, data)`` maps CDEvents, in-toto or OCSF events (docs/CAPTURE.md).

Everything here is implemented by the native module ``trailseal._trailseal`` (the Rust core).
"""

from ._trailseal import (
    AlreadyExistsError,
    Checkpoint,
    ClosedError,
    IdConflictError,
    InconsistentError,
    InternalError,
    InvalidArgumentError,
    InvalidEntryError,
    IoError,
    Ledger,
    LedgerLockedError,
    MalformedError,
    NotALedgerError,
    NotFoundError,
    OutOfRangeError,
    Receipt,
    RuleViolationError,
    Signer,
    StorageError,
    TamperedError,
    TrailsealError,
    VerificationError,
    WrongKindError,
    __version__,
    check_opening,
    check_rules,
    compact,
    detect_ci,
    verify_bundle,
    verify_cosigned,
    verify_bundle_with_tsa,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
    verify_timestamp_token,
)

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
    "check_opening",
    "check_rules",
    "compact",
    "detect_ci",
    "verify_bundle",
    "verify_cosigned",
    "verify_bundle_with_tsa",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
    "verify_timestamp_token",
]
