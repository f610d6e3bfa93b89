//! `trailseal show`: one entry, or the exact bytes of one leaf.

use std::io::{self, Write};

use trailseal::{Ledger, LedgerKind};

use crate::error::{usage, Res};
use crate::io::stdout_fail;

/// Print the leaf at `index`: as stored with `--raw` (so it can be hashed or checked against
/// a proof), else as a JSON line, which only an audit ledger's leaves are.
///
/// A pruned entry prints as `{"index", "leaf_hash", "pruned": {"by", "at", "rules_version"}}`
/// (its content is gone); with `--raw` it fails, as there are no bytes to print.
pub fn show(l: Ledger, index: u64, raw: bool) -> Res {
    let bytes = match l.get_raw(index) {
        Ok(b) => b,
        Err(e) if !raw && l.kind() == LedgerKind::Entries => match l.pruned(index)? {
            Some(p) => return crate::io::emit_line(&p.to_json()),
            None => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
    };
    let mut out = io::stdout().lock();
    if raw {
        out.write_all(&bytes)
    } else if l.kind() == LedgerKind::Raw {
        return Err(usage(
            "this is a raw ledger: use --raw to print the leaf bytes",
        ));
    } else if bytes.windows(10).any(|w| w == b"\"sealed\":[") {
        // Sealed personal values (SPEC section 10) are shown as recorded, not as their
        // commitments; --raw prints the leaf itself.
        let opened = trailseal::entry::canonical_json(&l.get(index)?);
        out.write_all(&opened).and_then(|_| out.write_all(b"\n"))
    } else {
        out.write_all(&bytes).and_then(|_| out.write_all(b"\n"))
    }
    .map_err(stdout_fail)
}
