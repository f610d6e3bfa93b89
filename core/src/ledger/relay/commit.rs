//! Where the relay meets the group commit: a client handle's group sent whole to the relay
//! (and recovered from the file if the relay dies holding it), and a relayed request taken
//! into the relay process's groups.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::ledger::append::Work;
use crate::ledger::group_commit::{LeaderTurn, Queued};
use crate::ledger::{Ledger, LedgerKind, Receipt};

use super::client::Sent;
use super::{RelayState, Tag};
use crate::entry::Timestamp;

/// What a leader's group became at the relay.
pub(in crate::ledger) enum Relayed<'a> {
    /// Every request answered: the leader's own outcome (empty if it had none); the queued
    /// callers' are in the turn's answers.
    Done(Result<Vec<Receipt>>),
    /// Requests for the leader to commit directly, and its own outcome if already known.
    Direct {
        own_outcome: Option<Result<Vec<Receipt>>>,
        own: Option<Work<'a>>,
        queued: Vec<Queued>,
    },
}

impl Ledger {
    /// A relayed request (see `server::converse`) joins this handle's group commit, each of
    /// its works tagged so the commit records what it stored for the client.
    pub(in crate::ledger) fn submit_relayed(
        &self,
        client: [u8; 16],
        seq: u64,
        works: Vec<Work<'static>>,
    ) -> Vec<Result<Vec<Receipt>>> {
        let size_floor = self.committed_size();
        let tagged = works
            .into_iter()
            .zip(0u32..)
            .map(|(w, work)| {
                (
                    w.into_owned(
                        size_floor,
                        self.rules_seen.load(std::sync::atomic::Ordering::Acquire),
                        self.term_ids_alg(),
                    ),
                    Some(Tag { client, seq, work }),
                )
            })
            .collect();
        self.submit_many(tagged)
    }

    /// Send a client handle's group to the relay. Requests the relay did not take, or that
    /// the file shows it did not store, are left for the leader to commit directly.
    pub(in crate::ledger) fn relay_group<'a>(
        &self,
        own: Option<Work<'a>>,
        queued: Vec<Queued>,
        turn: &mut LeaderTurn<'_>,
    ) -> Relayed<'a> {
        let mut state = self.relay.state();
        let RelayState::Client(client) = &mut *state else {
            return Relayed::Direct {
                own_outcome: None,
                own,
                queued,
            };
        };
        let works: Vec<&Work<'_>> = own.iter().chain(queued.iter().map(|q| &q.work)).collect();
        match client.send(&works) {
            Sent::Answered(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                let own_outcome = match own {
                    Some(_) => outcomes.next(),
                    None => None,
                };
                for (q, outcome) in queued.into_iter().zip(outcomes) {
                    turn.answer(q, outcome);
                }
                Relayed::Done(own_outcome.unwrap_or_else(|| Ok(Vec::new())))
            }
            Sent::NotTaken => {
                self.relay.set(&mut state, RelayState::Undecided);
                Relayed::Direct {
                    own_outcome: None,
                    own,
                    queued,
                }
            }
            Sent::Lost(seq) => {
                self.relay.set(&mut state, RelayState::Undecided);
                drop(state);
                match self.stored_by_relay(seq) {
                    Ok(listed) => self.split_recovered(listed, own, queued, turn),
                    Err(e) => Relayed::Done(Err(e)),
                }
            }
        }
    }

    /// What the relay recorded of request `seq` of this handle, by work: read under the
    /// write lock, which the dead relay process no longer holds, so its last transaction is
    /// either in the file or gone for good.
    fn stored_by_relay(&self, seq: u64) -> Result<HashMap<u32, Vec<u64>>> {
        let w = self.store()?.writer(self.durable)?;
        let record = w.relayed(&self.relay.id)?;
        drop(w);
        Ok(match record {
            Some(r) if r.seq == seq => r.works.into_iter().collect(),
            _ => HashMap::new(),
        })
    }

    /// Answer the requests the relay stored from the file; the rest go direct.
    fn split_recovered<'a>(
        &self,
        mut listed: HashMap<u32, Vec<u64>>,
        own: Option<Work<'a>>,
        queued: Vec<Queued>,
        turn: &mut LeaderTurn<'_>,
    ) -> Relayed<'a> {
        let mut n = 0u32;
        let (own_outcome, own) = match own {
            Some(work) => {
                n = 1;
                match listed.remove(&0) {
                    Some(indices) => (Some(self.receipts_at(&indices)), None),
                    None => (None, Some(work)),
                }
            }
            None => (None, None),
        };
        let mut rest = Vec::new();
        for q in queued {
            match listed.remove(&n) {
                Some(indices) => {
                    let outcome = self.receipts_at(&indices);
                    turn.answer(q, outcome);
                }
                None => rest.push(q),
            }
            n += 1;
        }
        Relayed::Direct {
            own_outcome,
            own,
            queued: rest,
        }
    }

    /// The receipts of the stored leaves at `indices`, as their append gave them.
    fn receipts_at(&self, indices: &[u64]) -> Result<Vec<Receipt>> {
        indices
            .iter()
            .map(|&index| {
                let time = match self.meta.kind {
                    LedgerKind::Entries => {
                        let entry = self.get(index)?;
                        let t = entry.get("time").and_then(|t| t.as_str()).ok_or_else(|| {
                            Error::Internal(format!("stored entry {index} has no time"))
                        })?;
                        Some(Timestamp::parse(t)?)
                    }
                    LedgerKind::Raw => None,
                };
                Ok(Receipt {
                    index,
                    leaf_hash: self.leaf_hash(index)?,
                    tree_size: index + 1,
                    root: self.root_at(index + 1)?,
                    time,
                })
            })
            .collect()
    }
}
