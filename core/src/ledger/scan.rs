//! Reading a range of leaves in order, for consumers that walk the ledger end to end (exports,
//! followers) and should not pay a snapshot and a bundle lookup per leaf as [`Ledger::get_raw`]
//! does.

use crate::error::{guarded, Result};

use super::{check_size, Ledger};

impl Ledger {
    /// Leaves `first..end` in index order, a stored bundle's worth at a time, from one read
    /// snapshot: `f` gets the index of the first leaf it is given and the leaves' exact bytes.
    /// Memory holds one bundle, never the range. `end` may not exceed the current size.
    pub fn scan_raw(
        &self,
        first: u64,
        end: u64,
        f: impl FnMut(u64, &[&[u8]]) -> Result<()>,
    ) -> Result<()> {
        guarded(|| {
            let (reader, state) = self.snapshot()?;
            check_size(end, state.size)?;
            if first >= end {
                return Ok(());
            }
            reader.scan_leaf_batches(first, end, f)
        })
    }
}
