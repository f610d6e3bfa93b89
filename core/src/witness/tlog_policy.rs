//! C2SP tlog-policy files: the logs a verifier accepts, the witnesses it knows, and the quorum
//! rule (witnesses and nested groups with thresholds) a checkpoint's cosignatures must meet.
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <member>...
//! quorum <name>|none
//! ```
//!
//! Lines are split on spaces and tabs; empty lines and `#` comments are ignored; a group or the
//! quorum names only what is defined above it; no name, member or public key twice. URLs are
//! read and ignored (verifying needs none).

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::note::{open_note, Verifier};

use super::cosignature::{Cosignature, CosignerKey};
use super::policy::{signature_lines, CosignedCheckpoint, WitnessPolicy};

/// The spec's recommended minimum of supported logs, witnesses and groups, used as our cap so
/// that a hostile file cannot make evaluation slow.
const MAX_ITEMS: usize = 32;

/// A quorum rule: a witness, or a group that holds when `k` of its members hold.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Rule {
    None,
    Witness(usize),
    Group(usize, Vec<Rule>),
}

impl Rule {
    fn holds(&self, cosigned: &[bool]) -> bool {
        match self {
            Rule::None => true,
            Rule::Witness(i) => cosigned.get(*i).copied().unwrap_or(false),
            Rule::Group(k, members) => members.iter().filter(|m| m.holds(cosigned)).count() >= *k,
        }
    }
}

/// A parsed tlog-policy file.
#[derive(Clone, Debug)]
pub struct TlogPolicy {
    logs: Vec<Verifier>,
    witnesses: WitnessPolicy,
    quorum: Rule,
}

impl TlogPolicy {
    /// Parses a policy file. Refused ([`Error::Malformed`], naming the line): an unknown
    /// keyword, a wrong number of fields, a bad vkey, a name defined twice or used before it is
    /// defined, a member listed twice, a threshold outside 1..=n, a duplicate public key, not
    /// exactly one quorum line, more than 32 logs, witnesses or groups, a control character
    /// other than tab.
    pub fn parse(text: &str) -> Result<TlogPolicy> {
        let mut logs: Vec<Verifier> = Vec::new();
        let mut keys: Vec<CosignerKey> = Vec::new();
        // Names of witnesses and groups, each with its rule.
        let mut names: Vec<(String, Rule)> = Vec::new();
        let mut used: Vec<String> = Vec::new();
        let mut groups = 0;
        let mut quorum: Option<Rule> = None;
        for (n, raw) in text.split('\n').enumerate() {
            let bad =
                |why: String| Error::malformed("tlog-policy", format!("line {}: {why}", n + 1));
            if raw.chars().any(|c| c < ' ' && c != '\t') {
                return Err(bad("a control character other than tab".into()));
            }
            let fields: Vec<&str> = raw.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
            let Some(&keyword) = fields.first() else {
                continue;
            };
            if keyword.starts_with('#') {
                continue;
            }
            let find = |name: &str| {
                names
                    .iter()
                    .find(|(m, _)| m == name)
                    .map(|(_, r)| r.clone())
            };
            match keyword {
                "log" => {
                    if !(2..=3).contains(&fields.len()) {
                        return Err(bad("expected: log <vkey> [<url>]".into()));
                    }
                    let v = Verifier::from_key_string(fields[1]).map_err(|e| bad(e.to_string()))?;
                    if logs.iter().any(|l| l.public_key() == v.public_key()) {
                        return Err(bad("this log key is listed twice".into()));
                    }
                    logs.push(v);
                }
                "witness" => {
                    if !(3..=4).contains(&fields.len()) {
                        return Err(bad("expected: witness <name> <vkey> [<url>]".into()));
                    }
                    let name = fields[1];
                    if name == "none" || find(name).is_some() {
                        return Err(bad(format!("the name {name:?} is taken")));
                    }
                    let key =
                        CosignerKey::from_key_string(fields[2]).map_err(|e| bad(e.to_string()))?;
                    if keys.iter().any(|k| k.public_key() == key.public_key()) {
                        return Err(bad("this witness key is listed twice".into()));
                    }
                    names.push((name.to_owned(), Rule::Witness(keys.len())));
                    keys.push(key);
                }
                "group" => {
                    if fields.len() < 4 {
                        return Err(bad("expected: group <name> all|any|<k> <member>...".into()));
                    }
                    let name = fields[1];
                    if name == "none" || find(name).is_some() {
                        return Err(bad(format!("the name {name:?} is taken")));
                    }
                    let mut members = Vec::new();
                    for m in &fields[3..] {
                        let rule =
                            find(m).ok_or_else(|| bad(format!("{m:?} is not defined above")))?;
                        if used.iter().any(|u| u == m) {
                            return Err(bad(format!("{m:?} is a member twice")));
                        }
                        used.push((*m).to_owned());
                        members.push(rule);
                    }
                    let k = match fields[2] {
                        "all" => members.len(),
                        "any" => 1,
                        k => k
                            .parse::<usize>()
                            .ok()
                            .filter(|k| {
                                (1..=members.len()).contains(k) && k.to_string() == fields[2]
                            })
                            .ok_or_else(|| {
                                bad(format!("threshold {k:?} is not 1 to {}", members.len()))
                            })?,
                    };
                    groups += 1;
                    names.push((name.to_owned(), Rule::Group(k, members)));
                }
                "quorum" => {
                    if fields.len() != 2 {
                        return Err(bad("expected: quorum <name>".into()));
                    }
                    if quorum.is_some() {
                        return Err(bad("a second quorum line".into()));
                    }
                    quorum = Some(if fields[1] == "none" {
                        Rule::None
                    } else {
                        find(fields[1])
                            .ok_or_else(|| bad(format!("{:?} is not defined above", fields[1])))?
                    });
                }
                other => return Err(bad(format!("unknown keyword {other:?}"))),
            }
            if logs.len() > MAX_ITEMS || keys.len() > MAX_ITEMS || groups > MAX_ITEMS {
                return Err(bad(format!(
                    "more than {MAX_ITEMS} logs, witnesses or groups"
                )));
            }
        }
        let quorum =
            quorum.ok_or_else(|| Error::malformed("tlog-policy", "no quorum line".to_owned()))?;
        Ok(TlogPolicy {
            logs,
            witnesses: WitnessPolicy {
                witnesses: keys,
                quorum: 0,
            },
            quorum,
        })
    }

    /// The policy's witnesses (every `witness` line).
    pub fn witnesses(&self) -> &WitnessPolicy {
        &self.witnesses
    }

    /// Whether valid cosignatures `valid` (of the policy's witnesses) meet its quorum rule.
    pub fn holds(&self, valid: &[Cosignature]) -> bool {
        let cosigned: Vec<bool> = self
            .witnesses
            .witnesses
            .iter()
            .map(|w| {
                valid
                    .iter()
                    .any(|c| c.name == w.name() && c.key_hash == w.key_hash())
            })
            .collect();
        self.quorum.holds(&cosigned)
    }

    /// Whether the policy asks for no cosignature (`quorum none`).
    pub fn is_empty(&self) -> bool {
        self.quorum == Rule::None
    }

    /// Opens a cosigned checkpoint under the policy: signed by one of its logs (or by `log`,
    /// when the policy lists none or the caller names the key), cosigned so that the quorum
    /// rule holds. A cosignature line of a policy witness that does not verify is refused.
    pub fn verify(&self, note: &str, log: Option<&Verifier>) -> Result<CosignedCheckpoint> {
        let logs: Vec<Verifier> = match log {
            Some(v) => vec![v.clone()],
            None => self.logs.clone(),
        };
        if logs.is_empty() {
            return Err(Error::InvalidArgument(
                "the policy lists no log and no log key was given".into(),
            ));
        }
        let opened = open_note(note, &logs)?;
        let checkpoint = Checkpoint::parse_body(&opened.body)?;
        let lines = signature_lines(note)?;
        let cosignatures = self.witnesses.valid_cosignatures(&opened.body, &lines)?;
        if !self.holds(&cosignatures) {
            let names: Vec<&str> = cosignatures.iter().map(|c| c.name.as_str()).collect();
            return Err(Error::verification(format!(
                "the checkpoint's cosignatures ({}) do not meet the policy's quorum",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )));
        }
        Ok(CosignedCheckpoint {
            checkpoint,
            cosignatures,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::cosignature::Cosigner;
    use super::*;
    use crate::error::ErrorCode;
    use crate::note::{Note, Signer};

    #[test]
    fn groups_and_quorum() {
        let log = Signer::from_seed("example.com/log", [1; 32]).unwrap();
        let note = Checkpoint::new("example.com/log", 5, [7; 32])
            .sign(&log)
            .unwrap();
        let body = Note::parse(&note).unwrap().body;
        let w: Vec<Cosigner> = (0..3)
            .map(|i| Cosigner::from_seed(&format!("w{i}.example"), [10 + i; 32]).unwrap())
            .collect();
        let text = format!(
            "# two of the first pair, and the third\nlog {}\nwitness A {}\nwitness B {} https://b.example/\n\twitness C {}\ngroup AB 1 A B\ngroup all-of all AB C\nquorum all-of\n",
            log.verifier(),
            w[0].key(),
            w[1].key(),
            w[2].key()
        );
        let p = TlogPolicy::parse(&text).unwrap();
        let with = |idx: &[usize]| {
            let mut n = note.clone();
            for &i in idx {
                n.push_str(&w[i].cosign(&body, 1).unwrap().to_line());
                n.push('\n');
            }
            n
        };
        assert!(p.verify(&with(&[0, 2]), None).is_ok());
        assert!(p.verify(&with(&[1, 2]), None).is_ok());
        let e = p.verify(&with(&[0, 1]), None).unwrap_err();
        assert_eq!(e.code(), ErrorCode::VerificationFailed);
        assert!(p.verify(&with(&[2]), None).is_err());

        // Two witnesses whose keys carry the same name are two witnesses: one's cosignature
        // does not count for the other.
        let twin = Cosigner::from_seed("w0.example", [99; 32]).unwrap();
        let both = TlogPolicy::parse(&format!(
            "log {}\nwitness A {}\nwitness T {}\ngroup G all A T\nquorum G\n",
            log.verifier(),
            w[0].key(),
            twin.key()
        ))
        .unwrap();
        let e = both.verify(&with(&[0]), None).unwrap_err();
        assert_eq!(e.code(), ErrorCode::VerificationFailed);
        let mut twice = with(&[0]);
        twice.push_str(&twin.cosign(&body, 1).unwrap().to_line());
        twice.push('\n');
        assert_eq!(both.verify(&twice, None).unwrap().cosignatures.len(), 2);

        for bad in [
            "quorum none\nquorum none\n",
            "witness A x\nquorum A\n",
            "quorum A\n",
            "group G 1 A\nquorum G\n",
            &format!(
                "witness A {}\nwitness A {}\nquorum A\n",
                w[0].key(),
                w[1].key()
            ),
            &format!(
                "witness A {}\nwitness B {}\nquorum A\n",
                w[0].key(),
                w[0].key()
            ),
            &format!("witness A {}\ngroup G 2 A\nquorum G\n", w[0].key()),
            &format!("witness A {}\ngroup G 01 A\nquorum G\n", w[0].key()),
            &format!("witness A {}\ngroup G 1 A A\nquorum G\n", w[0].key()),
            "frobnicate\nquorum none\n",
            "",
        ] {
            let e = TlogPolicy::parse(bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::Malformed, "{bad:?}: {e}");
        }
        let none = TlogPolicy::parse("quorum none\n").unwrap();
        assert!(none.verify(&note, Some(&log.verifier())).is_ok());
        assert!(
            none.verify(&note, None).is_err(),
            "no log to check the signature with"
        );
    }
}
