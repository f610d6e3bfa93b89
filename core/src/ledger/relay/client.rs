//! The relay's client side: a connection to the process serving as the ledger's relay, over
//! which a handle's local groups are sent whole.

use std::io::{BufReader, BufWriter};
use std::os::unix::net::{SocketAddr, UnixStream};

use crate::error::Result;
use crate::ledger::Receipt;

use super::super::append::Work;
use super::{server, wire};

/// An open conversation with the relay.
pub(super) struct Client {
    r: BufReader<UnixStream>,
    w: BufWriter<UnixStream>,
    /// The number of this handle's next request (the relay records the last it committed).
    seq: u64,
}

/// What became of a request sent to the relay.
pub(super) enum Sent {
    /// The relay's answer, an outcome per work.
    Answered(Vec<Result<Vec<Receipt>>>),
    /// The relay did not take the request (it is shutting down, or the request never reached
    /// it whole): nothing was done, and the caller commits directly.
    NotTaken,
    /// The relay took request `seq` and the conversation broke before its answer: only the
    /// file can tell what was committed.
    Lost(u64),
}

impl Client {
    /// Connect to the relay at `name` and be welcomed, or `None`.
    pub(super) fn connect(name: &SocketAddr, id: [u8; 16]) -> Option<Client> {
        let stream = UnixStream::connect_addr(name).ok()?;
        if !server::same_user(&stream) {
            return None;
        }
        let mut w = BufWriter::new(stream.try_clone().ok()?);
        let mut r = BufReader::new(stream);
        wire::send(&mut w, &wire::hello(&id)).ok()?;
        if !wire::read_welcome(&mut r).ok()? {
            return None;
        }
        Some(Client { r, w, seq: 1 })
    }

    /// Send `works` as one request and wait for the answer.
    pub(super) fn send(&mut self, works: &[&Work<'_>]) -> Sent {
        let seq = self.seq;
        self.seq += 1;
        let Ok(bytes) = wire::request(seq, works) else {
            return Sent::NotTaken;
        };
        // A request that did not reach the relay whole cannot have been read: the relay
        // reads a request in full before acting on it.
        if wire::send(&mut self.w, &bytes).is_err() {
            return Sent::NotTaken;
        }
        match wire::read_answer(&mut self.r) {
            Ok(Some(outcomes)) if outcomes.len() == works.len() => Sent::Answered(outcomes),
            Ok(None) => Sent::NotTaken,
            _ => Sent::Lost(seq),
        }
    }
}
