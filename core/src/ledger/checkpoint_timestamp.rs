//! Trusted time for kept checkpoints: asking a time-stamp authority to time-stamp one
//! (`crate::timestamp_token`) and keeping its token beside the checkpoint.

use std::time::Duration;

use serde_json::{json, Value};

use crate::error::{guarded, Error, Result};
use crate::note::Signer;
use crate::storage::{Reader, StoredCheckpoint};
use crate::timestamp_token::{
    imprint_matches, request_timestamp, verify_timestamp_token, AttestedTime,
};

use super::Ledger;

/// A kept checkpoint with the time-stamp token now stored for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampedCheckpoint {
    /// The checkpoint's sequence number among the kept ones (0 is the first signed).
    pub seq: u64,
    /// The checkpoint.
    pub checkpoint: StoredCheckpoint,
    /// The DER TimeStampToken, as stored.
    pub token: Vec<u8>,
    /// What the token attests.
    pub attested: AttestedTime,
    /// Whether the token was requested now; false when the checkpoint already had one that
    /// checks out under the CA given, which is kept (it attests the earlier time).
    pub requested: bool,
}

impl TimestampedCheckpoint {
    /// `{"checkpoint": seq, "size", "attested": {...}, "requested", "token": <base64>}`
    pub fn to_json(&self) -> Value {
        use base64::Engine as _;
        json!({
            "checkpoint": self.seq,
            "size": self.checkpoint.size,
            "attested": self.attested.to_json(),
            "requested": self.requested,
            "token": base64::engine::general_purpose::STANDARD.encode(&self.token),
        })
    }
}

impl Ledger {
    /// Have the time-stamp authority at `tsa_url` time-stamp a kept checkpoint (number `seq`,
    /// else the latest kept one, else one signed now by `signer`), check the token against
    /// the CA certificate in `ca_pem` (see [`crate::timestamp_token`]), and store it beside
    /// the checkpoint. A checkpoint that already has a token valid under `ca_pem` keeps it
    /// and no request is made (an earlier time is the stronger claim); one whose token is not
    /// valid under `ca_pem` (another TSA's) gets the new token in its place. The request runs
    /// with no lock held: the checkpoint is read (or signed) first and the token stored
    /// after, in a short write of its own, so a slow TSA never stalls appends. Nothing is
    /// stored unless every check passed.
    pub fn timestamp_checkpoint(
        &self,
        tsa_url: &str,
        ca_pem: &[u8],
        seq: Option<u64>,
        signer: Option<&Signer>,
        timeout: Duration,
    ) -> Result<TimestampedCheckpoint> {
        guarded(|| {
            self.writable()?;
            let (seq, checkpoint) = self.checkpoint_to_stamp(seq, signer)?;
            if let Some(token) = self.checkpoint_timestamp(seq)? {
                if let Ok(attested) =
                    verify_timestamp_token(&token, checkpoint.note.as_bytes(), ca_pem)
                {
                    return Ok(TimestampedCheckpoint {
                        seq,
                        checkpoint,
                        token,
                        attested,
                        requested: false,
                    });
                }
            }
            let granted = request_timestamp(tsa_url, ca_pem, checkpoint.note.as_bytes(), timeout)?;
            let mut guard = self.lock()?;
            self.recover(&mut guard)?;
            let mut w = self.failed(self.store()?.writer(self.durable))?;
            w.put_checkpoint_timestamp(seq, granted.token.clone());
            self.failed(w.commit())?;
            drop(guard);
            Ok(TimestampedCheckpoint {
                seq,
                checkpoint,
                token: granted.token,
                attested: granted.attested,
                requested: true,
            })
        })
    }

    /// The time-stamp token (DER) stored for kept checkpoint number `seq`, if any.
    pub fn checkpoint_timestamp(&self, seq: u64) -> Result<Option<Vec<u8>>> {
        guarded(|| self.snapshot()?.0.checkpoint_timestamp(seq))
    }

    /// `verify`'s check of the stored tokens, as far as the ledger alone can go (the CA is
    /// the caller's): each names a kept checkpoint, parses as a time-stamp token, and
    /// time-stamps that checkpoint's note. A token moved to another checkpoint fails here.
    pub(super) fn verify_stored_timestamps(&self, reader: &Reader) -> Result<()> {
        let kept = reader.checkpoints()?;
        for (seq, token) in reader.checkpoint_timestamps()? {
            let tampered = |detail: String| Error::Tampered {
                location: format!("time-stamp token of checkpoint {seq}"),
                detail,
            };
            let cp = usize::try_from(seq)
                .ok()
                .and_then(|i| kept.get(i))
                .ok_or_else(|| tampered("there is no such kept checkpoint".into()))?;
            match imprint_matches(&token, cp.note.as_bytes()) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(tampered(
                        "it time-stamps other bytes than the checkpoint's note".into(),
                    ))
                }
                Err(e) => return Err(tampered(e.to_string())),
            }
        }
        Ok(())
    }

    /// The token kept for the newest kept checkpoint whose note is `note`, if any (an
    /// evidence bundle carries it). Ed25519 signatures are deterministic, so a checkpoint of
    /// the same size signed again has the same note and finds the token of the first.
    pub(crate) fn timestamp_of_note(&self, note: &str) -> Result<Option<Vec<u8>>> {
        let (reader, _) = self.snapshot()?;
        let kept = reader.checkpoints()?;
        for (seq, cp) in kept.iter().enumerate().rev() {
            if cp.note == note {
                if let Some(token) = reader.checkpoint_timestamp(seq as u64)? {
                    return Ok(Some(token));
                }
            }
        }
        Ok(None)
    }

    fn checkpoint_to_stamp(
        &self,
        seq: Option<u64>,
        signer: Option<&Signer>,
    ) -> Result<(u64, StoredCheckpoint)> {
        let kept = self.checkpoints()?;
        if let Some(seq) = seq {
            let cp = usize::try_from(seq)
                .ok()
                .and_then(|i| kept.get(i))
                .ok_or_else(|| {
                    Error::OutOfRange(format!(
                        "no kept checkpoint number {seq}: this ledger keeps {}",
                        kept.len()
                    ))
                })?;
            return Ok((seq, cp.clone()));
        }
        if let Some(last) = kept.last() {
            return Ok((kept.len() as u64 - 1, last.clone()));
        }
        let signer = signer.ok_or_else(|| {
            Error::InvalidArgument(
                "this ledger keeps no checkpoint to time-stamp: give a signer key to sign one"
                    .into(),
            )
        })?;
        let note = self.checkpoint(signer, None)?;
        // Another process may have signed one meanwhile: ours is found by its text.
        let kept = self.checkpoints()?;
        let i = kept
            .iter()
            .rposition(|c| c.note == note)
            .ok_or_else(|| Error::Internal("the checkpoint just signed is not kept".into()))?;
        Ok((i as u64, kept[i].clone()))
    }
}
