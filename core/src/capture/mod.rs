//! Capture: evidence flows in from the tools that already know what happened.
//!
//! - [`ci`]: one entry per CI step, filled in from the CI system's own environment (GitHub
//!   Actions, GitLab CI, Azure Pipelines, Jenkins, Buildkite, CircleCI), with an `id` derived
//!   from the step, so a retried step is recorded once.
//! - [`git`]: a repository's commits, oldest first, incrementally (`id` = `git:<sha>`), read
//!   from the `git` command as a stream in batches, so memory does not grow with history.
//! - [`refs`]: the canonical ref forms every capture path writes (`git:<sha>`, `<alg>:<hex>`,
//!   `ci:<run URL>`, `repo:<host>/<path>`), so what two tools say about one object joins.
//! - [`formats`]: CDEvents, in-toto Statements (bare or in DSSE envelopes) and OCSF events,
//!   mapped onto the entry fields with the original event kept whole in `payload`.
//!
//! Every function here builds ordinary SPEC section 3 entries and appends them through
//! [`Ledger::append_batch`](crate::Ledger::append_batch), so the ledger's own validation and
//! `id` rule apply unchanged. The field mappings are tabulated in `docs/CAPTURE.md`.

pub mod ci;
pub mod formats;
pub mod git;
pub mod refs;

use sha2::{Digest, Sha256};

use crate::entry::canonical_json;

/// Lowercase hex SHA-256 of the RFC 8785 canonical JSON of `v`.
pub(crate) fn canonical_digest(v: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(canonical_json(v)))
}

/// `s` as one segment of an action (`^[a-z0-9][a-z0-9._:-]{0,127}$`): lowercased, every other
/// character replaced by `_`; empty input gives `unknown`.
pub(crate) fn action_segment(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || "._:-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    while out.starts_with(['.', '_', ':', '-']) {
        out.remove(0);
    }
    if out.is_empty() {
        out.push_str("unknown");
    }
    out
}

/// Join action segments and cut the result to the 128 characters SPEC allows.
pub(crate) fn action_of(parts: &[&str]) -> String {
    let mut a = parts
        .iter()
        .map(|p| action_segment(p))
        .collect::<Vec<_>>()
        .join(".");
    a.truncate(128);
    a
}

/// A URL without the credentials some CI systems put in clone URLs
/// (`https://gitlab-ci-token:SECRET@gitlab.com/...`): they must never reach the ledger.
pub fn strip_credentials(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if let Some((_, host)) = authority.rsplit_once('@') {
            return format!("{scheme}://{host}{path}");
        }
    }
    url.to_owned()
}

/// A repository's clone URL as a stable name: `git@github.com:acme/api.git`,
/// `https://token@github.com/acme/api` and `ssh://git@github.com/acme/api.git` all become
/// `github.com/acme/api`. Anything that is not a URL is returned unchanged.
pub fn repository_name(url: &str) -> String {
    let url = url.trim();
    let rest = if let Some((_, rest)) = url.split_once("://") {
        // scheme://[user@]host[:port]/path
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = host.split(':').next().unwrap_or(host);
        format!("{host}{path}")
    } else if let Some((user_host, path)) = url.split_once(':').filter(|(h, p)| {
        // scp-like: [user@]host:path (not a Windows drive letter, not a bare path)
        h.len() > 1 && !h.contains('/') && !p.starts_with("//")
    }) {
        let host = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
        format!("{host}/{path}")
    } else {
        return url.to_owned();
    };
    let rest = rest.trim_end_matches('/');
    rest.strip_suffix(".git").unwrap_or(rest).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_sanitized() {
        assert_eq!(
            action_of(&["cdevents", "pipelineRun", "finished"]),
            "cdevents.pipelinerun.finished"
        );
        assert_eq!(action_segment("Account Change"), "account_change");
        assert_eq!(action_segment("_x"), "x");
        assert_eq!(action_segment(""), "unknown");
        assert_eq!(action_of(&["a"; 100]).len(), 128);
    }

    #[test]
    fn repository_names() {
        for url in [
            "git@github.com:acme/api.git",
            "https://x-access-token:ghs_secret@github.com/acme/api.git",
            "ssh://git@github.com:22/acme/api.git",
            "https://github.com/acme/api/",
        ] {
            assert_eq!(repository_name(url), "github.com/acme/api", "{url}");
        }
        assert_eq!(repository_name("/srv/git/api"), "/srv/git/api");
        assert_eq!(
            strip_credentials("https://gitlab-ci-token:tok@gitlab.com/g/p.git"),
            "https://gitlab.com/g/p.git"
        );
        assert_eq!(strip_credentials("git@host:p"), "git@host:p");
    }
}
