//! The HTTP side of C2SP tlog-witness v1.0.0: one `add-checkpoint` request and what its
//! answer means. Pure parsing of the answers is separate from the request so that it can be
//! fuzzed and tested without a network.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::merkle::Hash;
use crate::note::SIG_PREFIX;

/// The spec's cap on consistency proof lines.
pub const MAX_PROOF_LINES: usize = 63;

/// A witness answer is a few signature lines or a size; anything much larger is not one.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// What a witness answered to one `add-checkpoint`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// 200: the signature lines it returned, without their newlines (not yet verified).
    Cosigned(Vec<String>),
    /// 409: the size it last cosigned, which the next request must start from.
    Conflict(u64),
    /// Any other status, with the start of its body for the message.
    Refused(u16, String),
}

/// The request body: `old <size>`, the proof lines, an empty line, the signed note.
pub fn request_body(old: u64, proof: &[Hash], note: &str) -> String {
    let mut body = format!("old {old}\n");
    for h in proof {
        body.push_str(&STANDARD.encode(h));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(note);
    body
}

/// Parses a 200 body: one or more lines, each starting with `— ` and ending with a newline.
pub fn parse_cosigned(body: &str) -> std::result::Result<Vec<String>, String> {
    let Some(text) = body.strip_suffix('\n') else {
        return Err("the answer is empty or not newline-terminated".into());
    };
    let mut lines = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        if !line.starts_with(SIG_PREFIX) {
            return Err(format!(
                "line {} of the answer is not a note signature line",
                i + 1
            ));
        }
        lines.push(line.to_owned());
    }
    Ok(lines)
}

/// Parses a 409 body (`text/x.tlog.size`): a canonical decimal size and a newline.
pub fn parse_conflict(body: &str) -> std::result::Result<u64, String> {
    let digits = body.strip_suffix('\n').unwrap_or(body);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !canonical {
        return Err("the 409 answer is not a tree size".into());
    }
    digits
        .parse()
        .map_err(|_| "the 409 answer is not a tree size".into())
}

/// Reads an answer from its status and body.
pub fn parse_answer(status: u16, body: &str) -> std::result::Result<Answer, String> {
    match status {
        200 => parse_cosigned(body).map(Answer::Cosigned),
        409 => parse_conflict(body).map(Answer::Conflict),
        other => Ok(Answer::Refused(
            other,
            body.chars().take(200).collect::<String>().trim().to_owned(),
        )),
    }
}

/// An HTTP client for witnesses, with one timeout for each whole request.
pub struct Client {
    agent: ureq::Agent,
    timeout: Duration,
}

impl Client {
    /// A client whose every request gives up after `timeout`, connection included.
    pub fn new(timeout: Duration) -> Client {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            // 4xx answers carry meaning here (409's size); they are read, not raised.
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("trailseal/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent: ureq::Agent::new_with_config(config),
            timeout,
        }
    }

    /// POSTs `add-checkpoint` under `prefix` and reads the answer. The error is a sentence
    /// for the user: refused connections and timeouts say so.
    pub fn add_checkpoint(
        &self,
        prefix: &str,
        old: u64,
        proof: &[Hash],
        note: &str,
    ) -> std::result::Result<Answer, String> {
        let url = format!("{}/add-checkpoint", prefix.trim_end_matches('/'));
        let sent = self
            .agent
            .post(&url)
            .header("Content-Type", "text/plain; charset=utf-8")
            .send(request_body(old, proof, note));
        let mut response = sent.map_err(|e| self.describe(&url, e))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_string()
            .map_err(|e| self.describe(&url, e))?;
        parse_answer(status, &body).map_err(|e| format!("{url}: {e}"))
    }

    fn describe(&self, url: &str, e: ureq::Error) -> String {
        match e {
            ureq::Error::Timeout(_) => {
                format!("{url}: no answer within {:?} (timed out)", self.timeout)
            }
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                format!("{url}: connection refused (is the witness running there?)")
            }
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                format!("{url}: no answer within {:?} (timed out)", self.timeout)
            }
            ureq::Error::HostNotFound => format!("{url}: host not found"),
            ureq::Error::ConnectionFailed => format!("{url}: could not connect"),
            other => format!("{url}: {other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_and_answers() {
        assert_eq!(
            request_body(2, &[[0; 32]], "n\n\n— k AAAA\n"),
            "old 2\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\nn\n\n— k AAAA\n"
        );
        assert_eq!(parse_answer(409, "17\n"), Ok(Answer::Conflict(17)));
        assert_eq!(parse_answer(409, "0\n"), Ok(Answer::Conflict(0)));
        for bad in [
            "",
            "\n",
            "017\n",
            "-1\n",
            "1 \n",
            "99999999999999999999999\n",
        ] {
            assert!(parse_answer(409, bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_answer(200, "— w AAAA\n— v BBBB\n"),
            Ok(Answer::Cosigned(vec!["— w AAAA".into(), "— v BBBB".into()]))
        );
        for bad in ["", "— w AAAA", "— w AAAA\n\n", "x\n"] {
            assert!(parse_answer(200, bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_answer(404, "unknown log\n"),
            Ok(Answer::Refused(404, "unknown log".into()))
        );
    }
}
