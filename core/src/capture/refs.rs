//! The canonical ref forms: one spelling per kind of object, whichever tool named it.
//!
//! `trace` joins entries by the exact text of `links[].ref` (the entry whose `id` is the ref,
//! else the earliest entry carrying it), so two importers that name one commit, run or
//! repository differently never meet. Every capture path (`record`, `import git`, and the
//! CDEvents, in-toto and OCSF mappings) writes these forms; `docs/CAPTURE.md` lists them.
//!
//! | object | ref | e.g. |
//! | --- | --- | --- |
//! | a git commit | `git:<sha>` (lowercase hex) | `git:dcd26fed2ccf37087005539ad8e8ce4db23b501d` |
//! | an artifact, by digest | `<alg>:<hex>` (both lowercase) | `sha256:d1faeb68…` |
//! | a CI run | `ci:<run URL>`; GitHub: `https://<host>/<owner>/<repo>/actions/runs/<id>` (no attempt, job or query) | `ci:https://github.com/o/r/actions/runs/2700464409` |
//! | a repository | `repo:<host>/<path>` (lowercase host, no scheme, user, port or `.git`) | `repo:github.com/o/r` |
//!
//! A SLSA or in-toto digest names a commit when its algorithm is `gitCommit`, or when it is
//! `sha1` (git's object hash) of a `git+…` URI, the form SLSA provenance v0.2 and the GitHub
//! generators use for the source; any other digest names an artifact.

use serde_json::Value;

use super::{repository_name, strip_credentials};

/// `git:<sha>`: a commit.
pub fn commit(sha: &str) -> String {
    format!("git:{}", sha.trim().to_ascii_lowercase())
}

/// `<alg>:<hex>`: an artifact by digest.
pub fn artifact(alg: &str, hex: &str) -> String {
    format!(
        "{}:{}",
        alg.trim().to_ascii_lowercase(),
        hex.trim().to_ascii_lowercase()
    )
}

/// `repo:<host>/<path>` for a repository named by a clone URL, `host/path`, or (with
/// `server`, e.g. `https://github.com`) an `owner/name` path on that server.
pub fn repository(name: &str, server: Option<&str>) -> String {
    format!("repo:{}", repository_canonical(name, server))
}

/// `<host>/<path>`: the repository part of [`repository`], as `git.repository`,
/// `ci.repository` and `slsa.repository` carry it.
pub fn repository_canonical(name: &str, server: Option<&str>) -> String {
    let name = name.trim();
    let name = name.strip_prefix("git+").unwrap_or(name);
    let looks_like_url = name.contains("://") || name.contains('@') || name.contains(':');
    let full = if looks_like_url {
        repository_name(name)
    } else if let Some(server) = server.filter(|_| !first_segment_is_host(name)) {
        let host = repository_name(server);
        format!("{host}/{}", name.trim_matches('/'))
    } else {
        name.trim_matches('/').to_owned()
    };
    let full = full.strip_suffix(".git").unwrap_or(&full).to_owned();
    match full.split_once('/') {
        Some((host, path)) => format!("{}/{path}", host.to_ascii_lowercase()),
        None => full,
    }
}

/// `github.com/o/r`: the first segment holds a dot, so it is a host, not an owner.
fn first_segment_is_host(name: &str) -> bool {
    name.split('/').next().is_some_and(|h| h.contains('.'))
}

/// `ci:<run URL>`, the URL made canonical by [`run_url`].
pub fn run(url: &str) -> String {
    format!("ci:{}", run_url(url))
}

/// A CI run's URL in its canonical form: without credentials or a trailing `/`; for GitHub
/// Actions (`…/actions/runs/<id>…`) the run itself, without `/attempts/<n>`, `/job/<id>`,
/// query or fragment, and with a lowercase host. Other URLs are kept as given.
pub fn run_url(url: &str) -> String {
    let url = strip_credentials(url.trim());
    let url = url.trim_end_matches('/');
    if let Some((scheme, rest)) = url.split_once("://") {
        let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
        let (path, _) = rest.split_at(path_end);
        let segs: Vec<&str> = path.split('/').collect();
        // host / owner / repo / actions / runs / id [/ ...]
        if segs.len() >= 6 && segs[3] == "actions" && segs[4] == "runs" {
            let id = segs[5];
            if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
                return format!(
                    "{scheme}://{}/{}/{}/actions/runs/{id}",
                    segs[0].to_ascii_lowercase(),
                    segs[1],
                    segs[2]
                );
            }
        }
    }
    url.to_owned()
}

/// A git source URI of SLSA / in-toto (`git+https://github.com/o/r@refs/tags/v1`): the
/// repository as `host/path`, and the ref after `@` if any.
pub(crate) fn git_source(uri: &str) -> Option<(String, Option<String>)> {
    let rest = uri.trim().strip_prefix("git+")?;
    // the ref follows the last '@' after the host (a user@ would come before it)
    let after_scheme = rest.find("://").map_or(0, |i| i + 3);
    let (url, git_ref) = match rest[after_scheme..].rfind('@') {
        Some(i) if rest[after_scheme..after_scheme + i].contains('/') => {
            let at = after_scheme + i;
            (&rest[..at], Some(rest[at + 1..].to_owned()))
        }
        _ => (rest, None),
    };
    Some((repository_canonical(url, None), git_ref))
}

/// The commit a web URL names: `https://<host>/<owner>/<repo>/commit/<sha>` (GitHub,
/// Gitea) or `…/-/commit/<sha>` (GitLab), as Cloud Build provenance names its source.
pub(crate) fn commit_url(uri: &str) -> Option<String> {
    let rest = uri.trim().split_once("://")?.1;
    let path = rest.split(['?', '#']).next()?;
    let (_, sha) = path.rsplit_once("/commit/")?;
    let sha = sha.trim_end_matches('/');
    let hex = (sha.len() == 40 || sha.len() == 64) && sha.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then(|| commit(sha))
}

/// A ref a person or script wrote (`record --ref`) in its canonical form, where its kind is
/// known by its prefix: `git:<SHA>` lowercased; `<alg>:<HEX>` of a digest algorithm, and an
/// OCI digest `oci:<alg>:<hex>` (the image's digest, as SLSA names the image), as
/// `<alg>:<hex>`; `ci:<URL>` as [`run`]; `repo:<name>` as [`repository`]. Anything else is
/// kept as written.
pub fn canonical(r: &str) -> String {
    let r = r.trim();
    let Some((kind, rest)) = r.split_once(':') else {
        return r.to_owned();
    };
    let hex = |h: &str| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit());
    let digest_alg = |a: &str| {
        matches!(
            a.to_ascii_lowercase().as_str(),
            "sha1" | "sha224" | "sha256" | "sha384" | "sha512" | "sha3_256" | "sha3_512" | "blake3"
        )
    };
    match kind.to_ascii_lowercase().as_str() {
        "git" if hex(rest) => commit(rest),
        "ci" => run(rest),
        "repo" => repository(rest, None),
        "oci" => match rest.split_once(':') {
            Some((alg, h)) if digest_alg(alg) && hex(h) => artifact(alg, h),
            _ => r.to_owned(),
        },
        alg if digest_alg(alg) && hex(rest) => artifact(alg, rest),
        _ => r.to_owned(),
    }
}

/// What an in-toto / SLSA `digest` object (with the `uri` of its resource, if any) names:
/// `("commit", sha)` or `("artifact", "<alg>:<hex>")`, with the strongest algorithm.
pub(crate) fn digest_object(digest: &Value, uri: Option<&str>) -> Option<(String, String)> {
    let d = digest.as_object()?;
    let hex = |k: &str| d.get(k).and_then(Value::as_str).map(str::trim);
    if let Some(c) = hex("gitCommit") {
        return Some(("commit".into(), c.to_ascii_lowercase()));
    }
    let git_uri = uri.is_some_and(|u| {
        let u = u.trim();
        u.starts_with("git+") || u.starts_with("git://") || u.ends_with(".git")
    });
    if let (true, Some(c)) = (git_uri, hex("sha1")) {
        return Some(("commit".into(), c.to_ascii_lowercase()));
    }
    for alg in ["sha256", "sha512", "sha384", "sha3_256", "sha1"] {
        if let Some(h) = hex(alg) {
            return Some(("artifact".into(), artifact(alg, h)));
        }
    }
    let (alg, h) = d.iter().find_map(|(k, v)| v.as_str().map(|h| (k, h)))?;
    Some(("artifact".into(), artifact(alg, h)))
}

/// The link ref of what [`digest_object`] found.
pub(crate) fn of((kind, id): &(String, String)) -> String {
    if kind == "commit" {
        commit(id)
    } else {
        id.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn runs() {
        for u in [
            "https://github.com/slsa-framework/example-package/actions/runs/13530999509/attempts/1",
            "https://GitHub.com/slsa-framework/example-package/actions/runs/13530999509/",
            "https://github.com/slsa-framework/example-package/actions/runs/13530999509?pr=1",
            "https://github.com/slsa-framework/example-package/actions/runs/13530999509/job/377",
        ] {
            assert_eq!(
                run(u),
                "ci:https://github.com/slsa-framework/example-package/actions/runs/13530999509",
                "{u}"
            );
        }
        let gl = "https://gitlab.com/gitlab-org/gitlab-runner/-/pipelines/1080513640";
        assert_eq!(run_url(gl), gl);
        let az = "https://dev.azure.com/fabrikam/Fabrikam/_build/results?buildId=1";
        assert_eq!(run_url(az), az);
    }

    #[test]
    fn repositories() {
        let want = "repo:github.com/sigstore/sigstore-js";
        assert_eq!(
            repository("sigstore/sigstore-js", Some("https://github.com")),
            want
        );
        assert_eq!(repository("github.com/sigstore/sigstore-js", None), want);
        assert_eq!(
            repository("git@github.com:sigstore/sigstore-js.git", None),
            want
        );
        assert_eq!(
            repository("git+https://github.com/sigstore/sigstore-js", None),
            want
        );
        assert_eq!(
            repository("https://x:tok@GitHub.com/sigstore/sigstore-js.git", None),
            want
        );
        assert_eq!(
            repository(
                "github.com/sigstore/sigstore-js",
                Some("https://ghe.example")
            ),
            want
        );
        assert_eq!(
            git_source("git+https://github.com/slsa-framework/example-package@refs/tags/v14"),
            Some((
                "github.com/slsa-framework/example-package".into(),
                Some("refs/tags/v14".into())
            ))
        );
        assert_eq!(git_source("https://example.com/x.tgz"), None);
        assert_eq!(
            commit_url(
                "https://github.com/laurentsimon/gcb-tests/commit/fbbb98765e85ad464302dc5977968104d36e455e"
            ),
            Some("git:fbbb98765e85ad464302dc5977968104d36e455e".into())
        );
        assert_eq!(commit_url("https://github.com/o/r/commits/main"), None);
    }

    #[test]
    fn written_refs() {
        assert_eq!(canonical("oci:sha256:9D1C0FFE"), "sha256:9d1c0ffe");
        assert_eq!(canonical("SHA256:AB"), "sha256:ab");
        assert_eq!(canonical("git:ABC123"), "git:abc123");
        assert_eq!(
            canonical("ci:https://github.com/o/r/actions/runs/1/attempts/2"),
            "ci:https://github.com/o/r/actions/runs/1"
        );
        assert_eq!(
            canonical("repo:git@github.com:o/r.git"),
            "repo:github.com/o/r"
        );
        assert_eq!(canonical("jira:OPS-12"), "jira:OPS-12");
        assert_eq!(canonical("oci:registry/x:tag"), "oci:registry/x:tag");
    }

    #[test]
    fn digests() {
        let src = "git+https://github.com/o/r@refs/tags/v1";
        let sha1 = json!({"sha1": "DCD26FED2CCF37087005539AD8E8CE4DB23B501D"});
        assert_eq!(
            digest_object(&sha1, Some(src)),
            Some((
                "commit".into(),
                "dcd26fed2ccf37087005539ad8e8ce4db23b501d".into()
            ))
        );
        assert_eq!(
            digest_object(&sha1, Some("https://example.com/x.tgz"))
                .unwrap()
                .0,
            "artifact"
        );
        assert_eq!(
            digest_object(&json!({"gitCommit": "ab", "sha256": "cd"}), None),
            Some(("commit".into(), "ab".into()))
        );
        assert_eq!(
            digest_object(&json!({"sha512": "EF", "sha256": "CD"}), None),
            Some(("artifact".into(), "sha256:cd".into()))
        );
    }
}
