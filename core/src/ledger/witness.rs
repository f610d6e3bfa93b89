//! `Ledger::witness`: sign (or reuse) the latest checkpoint, ask each witness to cosign it
//! from the size it last cosigned, and keep what they cosigned. The HTTP requests run with no
//! lock held and no write transaction open, so appends go on meanwhile; what they return is
//! kept in one short write at the end, all of it or nothing.

use std::time::Duration;

use super::Ledger;
use crate::error::{guarded, Error, Result};
use crate::note::{Note, Signer};
use crate::storage::{StoredCosignature, WitnessState};
use crate::witness::{self, Submission, WitnessOutcome, WitnessReport, WitnessSpec};

impl Ledger {
    /// Asks `witnesses` (C2SP tlog-witness v1.0.0) to cosign this ledger's checkpoint at its
    /// current size, signed by `signer` (the latest kept checkpoint is reused when it is of
    /// that size and by that key). Each request starts from the size that witness last
    /// cosigned (kept in the ledger) and follows its 409 answers; each request gives up after
    /// `timeout`. Every valid cosignature is kept with the checkpoint, and each cosigning
    /// witness's new size recorded, in one write after all witnesses answered.
    ///
    /// No `quorum` (`None`) asks for every witness.
    ///
    /// Returns the report even when fewer than `quorum` cosigned ([`WitnessReport::quorum_met`]
    /// says; each failed witness says why). Refused before any request: a ledger whose tree
    /// hash is not SHA-256 (no C2SP witness verifies another), no witness, a quorum above the
    /// number of witnesses, the same witness twice ([`Error::InvalidArgument`]).
    pub fn witness(
        &self,
        signer: &Signer,
        witnesses: &[WitnessSpec],
        quorum: Option<usize>,
        timeout: Duration,
    ) -> Result<WitnessReport> {
        guarded(|| {
            witness::check_hash(self.meta.hash)?;
            let quorum = quorum.unwrap_or(witnesses.len());
            check_witnesses(witnesses, quorum)?;
            self.check_signer(signer)?;
            self.writable()?;
            let (seq, note, size) = self.latest_checkpoint(signer)?;
            let body = Note::parse(&note)?.body;
            let root = crate::checkpoint::Checkpoint::parse_body(&body)?.root;
            let olds = {
                let (reader, _) = self.snapshot()?;
                let mut olds = Vec::with_capacity(witnesses.len());
                for w in witnesses {
                    let state = reader.witness_state(&w.key.to_key_string())?;
                    olds.push(state.map_or(0, |s| s.size));
                }
                olds
            };
            let sub = Submission {
                note: &note,
                body: &body,
                size,
                timeout,
            };
            let prove = |old: u64| -> Result<Vec<crate::merkle::Hash>> {
                Ok(self.prove_consistency(old, Some(size))?.path)
            };
            // Witnesses answer independently, so they are asked side by side: the slowest
            // bounds the wait, not their sum.
            let results: Vec<std::result::Result<witness::Cosignature, String>> =
                std::thread::scope(|s| {
                    let handles: Vec<_> = witnesses
                        .iter()
                        .zip(&olds)
                        .map(|(w, &old)| {
                            let (sub, prove) = (&sub, &prove);
                            s.spawn(move || witness::ask(sub, w, old, prove))
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| {
                            h.join()
                                .unwrap_or_else(|_| Err("the request panicked".to_owned()))
                        })
                        .collect()
                });
            let mut outcomes = Vec::with_capacity(witnesses.len());
            let mut keep = Vec::new();
            let mut states = Vec::new();
            for (w, r) in witnesses.iter().zip(results) {
                let (cosignature, error) = match r {
                    Ok(c) => {
                        keep.push(StoredCosignature {
                            witness_key: w.key.to_key_string(),
                            line: c.to_line(),
                        });
                        states.push((w.key.to_key_string(), WitnessState { size, root }));
                        (Some(c), None)
                    }
                    Err(e) => (None, Some(e)),
                };
                outcomes.push(WitnessOutcome {
                    url: w.url.clone(),
                    witness: w.key.name().to_owned(),
                    cosignature,
                    error,
                });
            }
            if !keep.is_empty() {
                self.keep_cosignatures(seq, keep, states)?;
            }
            Ok(WitnessReport {
                size,
                note: self.cosigned_note(seq, &note)?,
                outcomes,
                quorum,
            })
        })
    }

    /// The checkpoint note of sequence number `seq` with every cosignature kept for it.
    pub fn cosigned_note(&self, seq: u64, note: &str) -> Result<String> {
        let (reader, _) = self.snapshot()?;
        let mut out = note.to_owned();
        for (s, cosigs) in reader.cosignatures()? {
            if s == seq {
                for c in cosigs {
                    out.push_str(&c.line);
                    out.push('\n');
                }
            }
        }
        Ok(out)
    }

    /// The newest kept checkpoint when it is of the current size and by `signer`, else a new
    /// one: its sequence number, note and size.
    fn latest_checkpoint(&self, signer: &Signer) -> Result<(u64, String, u64)> {
        let vkey = signer.verifier().to_key_string();
        let size = self.size()?;
        let kept = self.checkpoints()?;
        if let Some(last) = kept.last() {
            if last.size == size && last.verifier_key == vkey {
                return Ok((kept.len() as u64 - 1, last.note.clone(), size));
            }
        }
        // Another process may append between our size read and the signature: sign what is
        // there and find it again by its text, which names the size it signed.
        let note = self.checkpoint(signer, None)?;
        let kept = self.checkpoints()?;
        let (seq, cp) = kept
            .iter()
            .enumerate()
            .rev()
            .find(|(_, cp)| cp.note == note)
            .ok_or_else(|| Error::Internal("the checkpoint just kept is not there".into()))?;
        Ok((seq as u64, note, cp.size))
    }

    fn keep_cosignatures(
        &self,
        seq: u64,
        cosigs: Vec<StoredCosignature>,
        states: Vec<(String, WitnessState)>,
    ) -> Result<()> {
        let mut guard = self.lock()?;
        self.recover(&mut guard)?;
        let mut w = self.failed(self.store()?.writer(self.durable))?;
        w.put_cosignatures(seq, cosigs);
        for (key, state) in states {
            w.put_witness_state(key, state);
        }
        self.failed(w.commit())?;
        drop(guard);
        Ok(())
    }
}

fn check_witnesses(witnesses: &[WitnessSpec], quorum: usize) -> Result<()> {
    if witnesses.is_empty() {
        return Err(Error::InvalidArgument("no witness to ask".into()));
    }
    if quorum > witnesses.len() {
        return Err(Error::InvalidArgument(format!(
            "a quorum of {quorum} cannot be met by {} witness(es)",
            witnesses.len()
        )));
    }
    for (i, w) in witnesses.iter().enumerate() {
        if witnesses[..i].iter().any(|o| o.key.name() == w.key.name()) {
            return Err(Error::InvalidArgument(format!(
                "witness {} is given twice",
                w.key.name()
            )));
        }
    }
    Ok(())
}
