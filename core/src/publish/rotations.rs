//! The key rotation chain of a published log (SPEC 4.1, 7): each rotation of the log's
//! checkpoint key is published as one object, `trailseal/key-rotation/<K>`, where `<K>` is
//! the hex SHA-256 of the verifier key it replaces, holding the same link a bundle carries
//! (the `key.rotated` entry, the checkpoint over it signed by the old key and the new one, and
//! the entry's audit path in that checkpoint's tree).
//!
//! Naming each link by the key it replaces lets a reader that trusts only an earlier key find
//! the chain with plain reads and no listing (a CDN or a bucket serves no listing to readers):
//! from its key, the link to the next, and so on until no link is found. Each object is
//! written once and never replaced, so object lock covers it, and a ledger never puts a
//! retired key back in force (see [`crate::Ledger::rotate_key`]), so no name is reused.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Source;
use crate::error::{Error, Result};
use crate::key_chain::BundleRotation;
use crate::note::Verifier;

/// The object naming the rotation that replaces `old_key` (a verifier key string).
pub fn rotation_path(old_key: &str) -> String {
    format!(
        "trailseal/key-rotation/{}",
        hex::encode(Sha256::digest(old_key.as_bytes()))
    )
}

/// The chain a reader trusting `trusted` follows to the key of a checkpoint of `size` leaves:
/// the published link replacing `trusted`, then the one replacing its new key, and so on,
/// stopping at a link that is not before `size`. The links are read, not checked: holding
/// them to `trusted` is [`crate::key_chain::follow_chain`]'s work. A link that does not parse
/// is [`Error::Tampered`].
pub fn published_chain(
    source: &dyn Source,
    trusted: &Verifier,
    size: u64,
) -> Result<Vec<BundleRotation>> {
    let mut chain: Vec<BundleRotation> = Vec::new();
    let mut key = trusted.to_key_string();
    loop {
        let path = rotation_path(&key);
        let Some(bytes) = source.get(&path)? else {
            return Ok(chain);
        };
        let tampered = |detail: String| Error::Tampered {
            location: path.clone(),
            detail,
        };
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| tampered(format!("not a key rotation link: {e}")))?;
        let object = value
            .as_object()
            .filter(|o| {
                ["index", "checkpoint", "path", "entry"]
                    .iter()
                    .all(|k| o.contains_key(*k))
            })
            .ok_or_else(|| tampered("not a key rotation link".into()))?;
        let link =
            BundleRotation::from_object(object, &path).map_err(|e| tampered(e.to_string()))?;
        // A link at or past the size is not part of the chain to a checkpoint of that size,
        // and one that does not move forward would loop.
        if link.index >= size || chain.last().is_some_and(|l| link.index <= l.index) {
            return Ok(chain);
        }
        key = link
            .new_key()
            .ok_or_else(|| tampered("its entry names no new key".into()))?;
        chain.push(link);
    }
}
