//! A directory as a publish [`Destination`]: what a web server or a CDN origin serves.
//!
//! Each object is written to a temporary name beside it and renamed into place, so a reader
//! sees the old object or the new one, never a part. Objects are not fsync'd one by one (a
//! full publish writes thousands); [`Destination::flush`] syncs the file system once before
//! the checkpoint is written, and the checkpoint itself is synced with its directory.

use std::collections::HashSet;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Destination, Source};
use crate::error::{Error, Result};

/// Publishes into the directory `root` (created if missing).
#[derive(Debug)]
pub struct DirDestination {
    root: PathBuf,
    /// Directories known to exist, so a full publish does not ask the kernel per object.
    made: Mutex<HashSet<PathBuf>>,
}

impl DirDestination {
    /// A destination at `root`, created if missing.
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        fs::create_dir_all(root.as_ref())?;
        Ok(DirDestination {
            root: fs::canonicalize(root.as_ref())?,
            made: Mutex::new(HashSet::new()),
        })
    }

    fn file(&self, path: &str) -> Result<PathBuf> {
        if path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(Error::InvalidArgument(format!(
                "not an object path: {path:?}"
            )));
        }
        Ok(self.root.join(path))
    }
}

impl Source for DirDestination {
    fn name(&self) -> String {
        self.root.display().to_string()
    }

    fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match fs::read(self.file(path)?) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

impl Destination for DirDestination {
    fn put(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let file = self.file(path)?;
        let dir = file.parent().unwrap_or(&self.root).to_path_buf();
        {
            let mut made = self.made.lock().unwrap_or_else(|p| p.into_inner());
            if !made.contains(&dir) {
                fs::create_dir_all(&dir)?;
                made.insert(dir.clone());
            }
        }
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            name.unwrap_or_default(),
            std::process::id()
        ));
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        if path == super::layout::CHECKPOINT_PATH {
            f.sync_all()?;
        }
        drop(f);
        fs::rename(&tmp, &file)?;
        if path == super::layout::CHECKPOINT_PATH {
            fs::File::open(&dir)?.sync_all()?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        sync_fs(&self.root)
    }
}

/// Sync the file system holding `dir`: one call for every object written since.
#[cfg(target_os = "linux")]
fn sync_fs(dir: &Path) -> Result<()> {
    use std::os::fd::AsRawFd as _;
    let f = fs::File::open(dir)?;
    // SAFETY: syncfs takes an open descriptor, which `f` holds for the call.
    if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(())
}

/// Elsewhere objects are renamed into place but not synced as a group: the checkpoint is
/// still written last and synced, but a power cut may lose objects it names.
#[cfg(not(target_os = "linux"))]
fn sync_fs(_dir: &Path) -> Result<()> {
    Ok(())
}
