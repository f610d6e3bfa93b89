//! The relay's wire format, over a local stream socket. All integers little-endian.
//!
//! ```text
//! hello     client -> server  "TSR1" client-id[16]
//! welcome   server -> client  "TSR1" status:u8          0 serving, 1 refused (fall back)
//! request   client -> server  seq:u64 works:u32 { kind:u8 items:u32 { len:u32 bytes } }
//!                             kind 1: each item an entry as JSON; kind 2: raw leaves
//! answer    server -> client  status:u8                  0 answered, 1 not served (fall back)
//!                             then for status 0: works:u32 { outcome }
//! outcome   0 receipts:u32 { index:u64 tree_size:u64 leaf_hash[32] root[32] has_time:u8 time:i128 }
//!           1 code:u32 a:str b:str n:u64               an Error (see `error_to_wire`)
//! str       len:u32 utf8
//! ```

use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use crate::entry::Timestamp;
use crate::error::{Error, ErrorCode, Result};

use super::super::append::Work;
use super::super::Receipt;

/// Opens a conversation and names the protocol version.
pub(super) const MAGIC: &[u8; 4] = b"TSR1";
pub(super) const SERVING: u8 = 0;
pub(super) const REFUSED: u8 = 1;
pub(super) const ANSWERED: u8 = 0;
pub(super) const NOT_SERVED: u8 = 1;

/// Bounds on what a peer may ask the other to allocate.
const MAX_ITEM_BYTES: u32 = 256 << 20;
const MAX_ITEMS: u32 = 1 << 24;

pub(super) fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}
pub(super) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub(super) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_bytes(out: &mut Vec<u8>, b: &[u8]) -> io::Result<()> {
    let len = u32::try_from(b.len())
        .ok()
        .filter(|&n| n <= MAX_ITEM_BYTES)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "item too large to relay"))?;
    put_u32(out, len);
    out.extend_from_slice(b);
    Ok(())
}

pub(super) fn get_u8(r: &mut impl Read) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}
pub(super) fn get_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}
pub(super) fn get_u64(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}
fn get_array<const N: usize>(r: &mut impl Read) -> io::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}
fn get_bytes(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let len = get_u32(r)?;
    if len > MAX_ITEM_BYTES {
        return Err(bad("item length beyond the limit"));
    }
    // Grown as bytes arrive, so a garbled length costs no allocation of its size.
    let mut b = Vec::new();
    r.take(u64::from(len)).read_to_end(&mut b)?;
    if b.len() != len as usize {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
    }
    Ok(b)
}
fn get_str(r: &mut impl Read) -> io::Result<String> {
    String::from_utf8(get_bytes(r)?).map_err(|_| bad("text that is not UTF-8"))
}
fn get_count(r: &mut impl Read) -> io::Result<u32> {
    let n = get_u32(r)?;
    if n > MAX_ITEMS {
        return Err(bad("count beyond the limit"));
    }
    Ok(n)
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("relay protocol: {what}"),
    )
}

/// `hello`.
pub(super) fn hello(client: &[u8; 16]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(client);
    out
}

/// Reads `hello`: the client's id.
pub(super) fn read_hello(r: &mut impl Read) -> io::Result<[u8; 16]> {
    if &get_array::<4>(r)? != MAGIC {
        return Err(bad("not a trailseal relay client of this version"));
    }
    get_array::<16>(r)
}

/// Reads `welcome`: whether the server serves this client.
pub(super) fn read_welcome(r: &mut impl Read) -> io::Result<bool> {
    if &get_array::<4>(r)? != MAGIC {
        return Err(bad("not a trailseal relay of this version"));
    }
    Ok(get_u8(r)? == SERVING)
}

/// `request`. Entries already prepared for this process's own commit cannot travel
/// (`InvalidInput`): a relay client keeps its queued entries plain.
pub(super) fn request(seq: u64, works: &[&Work<'_>]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    put_u64(&mut out, seq);
    put_u32(&mut out, works.len() as u32);
    for work in works {
        match work {
            Work::Entries(values) => {
                put_u8(&mut out, 1);
                put_u32(&mut out, values.len() as u32);
                for v in values.iter() {
                    let json = serde_json::to_vec(v)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                    put_bytes(&mut out, &json)?;
                }
            }
            Work::Raw(leaves) => {
                put_u8(&mut out, 2);
                put_u32(&mut out, leaves.len() as u32);
                for l in leaves {
                    put_bytes(&mut out, l)?;
                }
            }
            Work::Prepared(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "prepared entries are not relayed",
                ))
            }
        }
    }
    Ok(out)
}

/// Reads `request`: its sequence number and works. An entry that is not JSON cannot come
/// from a client of this version, and fails the conversation.
pub(super) fn read_request(r: &mut impl Read) -> io::Result<(u64, Vec<Work<'static>>)> {
    let seq = get_u64(r)?;
    let n = get_count(r)?;
    let mut works = Vec::new();
    for _ in 0..n {
        let kind = get_u8(r)?;
        let items = get_count(r)?;
        works.push(match kind {
            1 => Work::Entries(Cow::Owned(
                (0..items)
                    .map(|_| {
                        serde_json::from_slice(&get_bytes(r)?).map_err(|_| bad("entry not JSON"))
                    })
                    .collect::<io::Result<_>>()?,
            )),
            2 => Work::Raw(
                (0..items)
                    .map(|_| get_bytes(r).map(Cow::Owned))
                    .collect::<io::Result<_>>()?,
            ),
            _ => return Err(bad("unknown work kind")),
        });
    }
    Ok((seq, works))
}

/// `answer` with status 0.
pub(super) fn answer(outcomes: &[Result<Vec<Receipt>>]) -> Vec<u8> {
    let mut out = vec![ANSWERED];
    put_u32(&mut out, outcomes.len() as u32);
    for outcome in outcomes {
        match outcome {
            Ok(receipts) => {
                put_u8(&mut out, 0);
                put_u32(&mut out, receipts.len() as u32);
                for rc in receipts {
                    put_u64(&mut out, rc.index);
                    put_u64(&mut out, rc.tree_size);
                    out.extend_from_slice(&rc.leaf_hash);
                    out.extend_from_slice(&rc.root);
                    match rc.time {
                        Some(t) => {
                            put_u8(&mut out, 1);
                            out.extend_from_slice(&t.unix_nanos().to_le_bytes());
                        }
                        None => {
                            put_u8(&mut out, 0);
                            out.extend_from_slice(&[0u8; 16]);
                        }
                    }
                }
            }
            Err(e) => {
                put_u8(&mut out, 1);
                let (code, a, b, n) = error_to_wire(e);
                put_u32(&mut out, code);
                // Error texts are short; one too long to frame is cut rather than lost.
                let _ = put_bytes(&mut out, a.as_bytes());
                let _ = put_bytes(&mut out, b.as_bytes());
                put_u64(&mut out, n);
            }
        }
    }
    out
}

/// Reads `answer`: `None` if the server did not serve the request (nothing was done).
pub(super) fn read_answer(r: &mut impl Read) -> io::Result<Option<Vec<Result<Vec<Receipt>>>>> {
    match get_u8(r)? {
        ANSWERED => {}
        NOT_SERVED => return Ok(None),
        _ => return Err(bad("unknown answer status")),
    }
    let n = get_count(r)?;
    let mut outcomes = Vec::new();
    for _ in 0..n {
        outcomes.push(match get_u8(r)? {
            0 => {
                let count = get_count(r)?;
                let mut receipts = Vec::new();
                for _ in 0..count {
                    let index = get_u64(r)?;
                    let tree_size = get_u64(r)?;
                    let leaf_hash = get_array::<32>(r)?;
                    let root = get_array::<32>(r)?;
                    let has_time = get_u8(r)? == 1;
                    let nanos = i128::from_le_bytes(get_array::<16>(r)?);
                    receipts.push(Receipt {
                        index,
                        leaf_hash,
                        tree_size,
                        root,
                        time: has_time.then(|| Timestamp::from_unix_nanos(nanos)),
                    });
                }
                Ok(receipts)
            }
            1 => {
                let code = get_u32(r)?;
                let a = get_str(r)?;
                let b = get_str(r)?;
                let n = get_u64(r)?;
                Err(error_from_wire(code, a, b, n))
            }
            _ => return Err(bad("unknown outcome")),
        });
    }
    Ok(Some(outcomes))
}

/// An error as (code, text, text, number): enough to rebuild the variant with its code, and
/// its fields where an append can produce it.
fn error_to_wire(e: &Error) -> (u32, String, String, u64) {
    let code = e.code().as_u32();
    match e {
        Error::InvalidEntry { field, rule } => (code, field.clone(), rule.clone(), 0),
        Error::IdConflict { id, index } => (code, id.clone(), String::new(), *index),
        Error::WrongKind { expected, actual } => {
            (code, (*expected).to_owned(), (*actual).to_owned(), 0)
        }
        Error::AlreadyExists(p) | Error::NotFound(p) | Error::Locked(p) => {
            (code, p.display().to_string(), String::new(), 0)
        }
        Error::Malformed { what, reason } => (code, (*what).to_owned(), reason.clone(), 0),
        Error::Tampered { location, detail } => (code, location.clone(), detail.clone(), 0),
        // Class and version share the first text, split at a NUL neither holds in practice.
        Error::RuleViolation {
            class,
            requirement,
            version,
        } => (code, format!("{class}\0{version}"), requirement.clone(), 0),
        Error::VerificationFailed(m)
        | Error::Inconsistent(m)
        | Error::OutOfRange(m)
        | Error::InvalidArgument(m)
        | Error::NotALedger(m)
        | Error::Storage(m)
        | Error::Internal(m) => (code, m.clone(), String::new(), 0),
        other => (code, other.to_string(), String::new(), 0),
    }
}

/// The kinds a ledger can be, as [`Error::WrongKind`] names them.
fn kind_name(s: &str) -> &'static str {
    match s {
        "entries" => "entries",
        "raw" => "raw",
        _ => "another kind",
    }
}

fn error_from_wire(code: u32, a: String, b: String, n: u64) -> Error {
    let code = ErrorCode::from_u32(code);
    match code {
        Some(ErrorCode::InvalidEntry) => Error::InvalidEntry { field: a, rule: b },
        Some(ErrorCode::IdConflict) => Error::IdConflict { id: a, index: n },
        Some(ErrorCode::WrongKind) => Error::WrongKind {
            expected: kind_name(&a),
            actual: kind_name(&b),
        },
        Some(ErrorCode::AlreadyExists) => Error::AlreadyExists(PathBuf::from(a)),
        Some(ErrorCode::NotFound) => Error::NotFound(PathBuf::from(a)),
        Some(ErrorCode::Locked) => Error::Locked(PathBuf::from(a)),
        Some(ErrorCode::Malformed) => Error::Malformed {
            what: "relayed request",
            reason: format!("{a}: {b}"),
        },
        Some(ErrorCode::Tampered) => Error::Tampered {
            location: a,
            detail: b,
        },
        Some(ErrorCode::VerificationFailed) => Error::VerificationFailed(a),
        Some(ErrorCode::Inconsistent) => Error::Inconsistent(a),
        Some(ErrorCode::OutOfRange) => Error::OutOfRange(a),
        Some(ErrorCode::InvalidArgument) => Error::InvalidArgument(a),
        Some(ErrorCode::NotALedger) => Error::NotALedger(a),
        Some(ErrorCode::Io) => Error::Io(io::Error::other(a)),
        Some(ErrorCode::Internal) => Error::Internal(a),
        Some(ErrorCode::Closed) => Error::Closed("ledger"),
        Some(ErrorCode::RuleViolation) => {
            let (class, version) = a.split_once('\0').unwrap_or((&a, ""));
            Error::RuleViolation {
                class: class.to_owned(),
                requirement: b,
                version: version.to_owned(),
            }
        }
        _ => Error::Storage(a),
    }
}

/// Write one message whole.
pub(super) fn send(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    w.write_all(bytes)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn receipts() -> Vec<Result<Vec<Receipt>>> {
        vec![
            Ok(vec![Receipt {
                index: 7,
                leaf_hash: [1; 32],
                tree_size: 8,
                root: [2; 32],
                time: Some(Timestamp::from_unix_nanos(1_700_000_000_123_456_789)),
            }]),
            Err(Error::InvalidEntry {
                field: "actor.id".into(),
                rule: "must be a non-empty string".into(),
            }),
            Err(Error::IdConflict {
                id: "x".into(),
                index: 3,
            }),
            Ok(vec![]),
        ]
    }

    #[test]
    fn requests_and_answers_round_trip() {
        let values = vec![json!({"b": 1, "a": [1.5, "x", null]}), json!({"z": {}})];
        let leaves = vec![Cow::Borrowed(&b"raw"[..]), Cow::Borrowed(&b""[..])];
        let (e, r) = (
            Work::Entries(Cow::Borrowed(&values)),
            Work::Raw(leaves.clone()),
        );
        let bytes = request(9, &[&e, &r]).unwrap();
        let (seq, works) = read_request(&mut bytes.as_slice()).unwrap();
        assert_eq!(seq, 9);
        match (&works[0], &works[1]) {
            (Work::Entries(v), Work::Raw(l)) => {
                assert_eq!(v.as_ref(), values.as_slice());
                // Key order survives (preserve_order), as the entry's own order must.
                assert_eq!(
                    serde_json::to_string(&v[0]).unwrap(),
                    r#"{"b":1,"a":[1.5,"x",null]}"#
                );
                assert_eq!(l, &leaves);
            }
            _ => panic!("works changed kind"),
        }
        let outcomes = receipts();
        let back = read_answer(&mut answer(&outcomes).as_slice())
            .unwrap()
            .unwrap();
        assert_eq!(back.len(), outcomes.len());
        assert_eq!(back[0].as_ref().unwrap(), outcomes[0].as_ref().unwrap());
        for (a, b) in back.iter().zip(&outcomes).skip(1) {
            let (Err(a), Err(b)) = (a, b) else {
                assert!(a.is_ok() && b.is_ok());
                continue;
            };
            assert_eq!(a.code(), b.code());
            assert_eq!(a.to_string(), b.to_string());
        }
        assert!(read_answer(&mut [NOT_SERVED].as_slice()).unwrap().is_none());
    }

    #[test]
    fn cut_or_garbled_messages_are_errors_not_panics() {
        let values = vec![json!({"actor": {"id": "a"}})];
        let e = Work::Entries(Cow::Borrowed(&values));
        let req = request(1, &[&e]).unwrap();
        let ans = answer(&receipts());
        for cut in 0..req.len() {
            assert!(
                read_request(&mut &req[..cut]).is_err(),
                "request cut at {cut}"
            );
        }
        for cut in 0..ans.len() {
            assert!(
                read_answer(&mut &ans[..cut]).is_err(),
                "answer cut at {cut}"
            );
        }
        // Every byte flipped in turn: refused or read, never a panic or a huge allocation.
        for i in 0..ans.len() {
            let mut bad = ans.clone();
            bad[i] ^= 0xff;
            let _ = read_answer(&mut bad.as_slice());
        }
        for i in 0..req.len() {
            let mut bad = req.clone();
            bad[i] ^= 0xff;
            let _ = read_request(&mut bad.as_slice());
        }
        assert!(read_hello(&mut &b"TSR0xxxxxxxxxxxxxxxx"[..]).is_err());
        assert!(read_welcome(&mut &b"HTTP"[..]).is_err());
    }
}
