//! A storage backend in memory whose bytes outlive the ledger handle, so a "reopen" is a new
//! handle on the same bytes: cheap, and no files pile up while fuzzing.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use trailseal::storage::Backend;

/// Shared bytes of one ledger; clones share them.
#[derive(Debug, Clone, Default)]
pub struct MemDisk(Arc<Mutex<Vec<u8>>>);

impl MemDisk {
    fn bytes(&self) -> MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the current bytes.
    pub fn image(&self) -> Vec<u8> {
        self.bytes().clone()
    }
}

impl Backend for MemDisk {
    fn len(&self) -> Result<u64, io::Error> {
        Ok(self.bytes().len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let b = self.bytes();
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        let src = start
            .checked_add(out.len())
            .and_then(|end| b.get(start..end))
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let len = usize::try_from(len).map_err(io::Error::other)?;
        self.bytes().resize(len, 0);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut b = self.bytes();
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        let end = start + data.len();
        if b.len() < end {
            b.resize(end, 0);
        }
        b[start..end].copy_from_slice(data);
        Ok(())
    }
}
