//! Shared by the case table runners of the core and the command (`cli/tests/cases.rs`
//! includes this file by path).

/// A read error's message as a `prune` row gives it (tests/vectors/README.md): from its first
/// `entry `, with the time after `pruned on ` and the 64 hex digits after `leaf hash `
/// replaced by `TIME` and `HASH`.
pub fn pruned_message(m: &str) -> String {
    let m = &m[m.find("entry ").unwrap_or(0)..];
    let mut out = m.to_owned();
    if let Some(at) = out.find("pruned on ") {
        let start = at + "pruned on ".len();
        let end = out[start..].find(' ').map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "TIME");
    }
    if let Some(at) = out.find("leaf hash ") {
        let start = at + "leaf hash ".len();
        let end = (start + 64).min(out.len());
        out.replace_range(start..end, "HASH");
    }
    out
}
