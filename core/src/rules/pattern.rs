//! Action patterns: an action name with `*` wildcards (`deploy.*`, `*.approved`, `*`), compiled
//! once when a rules document is read so that matching an entry costs a few slice compares.
//!
//! Written here rather than taken from a glob crate: the syntax is ours (action names, one
//! wildcard, no classes or escapes), and file-path globbing rules (`/`, `**`) would be wrong.

use crate::error::{Error, Result};

/// A compiled action pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    /// The literal pieces between the `*`s; one piece and no `*` is an exact name.
    parts: Vec<String>,
}

impl Pattern {
    /// Compiles an action pattern: the characters SPEC allows in `action` (lowercase ASCII
    /// letters, digits, `.`, `_`, `:`, `-`) with `*` matching any run of them.
    pub fn action(text: &str) -> Result<Pattern> {
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._:-*".contains(c);
        if let Some(c) = text.chars().find(|c| !allowed(*c)) {
            return Err(Error::malformed(
                "rules document",
                format!("action pattern {text:?}: character {c:?} cannot occur in an action"),
            ));
        }
        Self::actor(text)
    }

    /// Compiles an actor-id pattern: any non-empty text, `*` matching any run of characters.
    pub fn actor(text: &str) -> Result<Pattern> {
        if text.is_empty() {
            return Err(Error::malformed("rules document", "an empty pattern"));
        }
        Ok(Pattern {
            text: text.to_owned(),
            parts: text.split('*').map(str::to_owned).collect(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True if the pattern has no `*`: it names one action.
    pub fn is_exact(&self) -> bool {
        self.parts.len() == 1
    }

    /// Whether `name` matches: the first piece is a prefix, the last a suffix, and the middle
    /// ones occur in order in between (leftmost match, which is enough for `*` alone).
    pub fn matches(&self, name: &str) -> bool {
        let (first, rest) = match self.parts.split_first() {
            Some(p) => p,
            None => return false,
        };
        let Some(last) = rest.last() else {
            return name == first;
        };
        if name.len() < first.len() + last.len()
            || !name.starts_with(first.as_str())
            || !name.ends_with(last.as_str())
        {
            return false;
        }
        let mut middle = &name[first.len()..name.len() - last.len()];
        for part in &rest[..rest.len() - 1] {
            match middle.find(part.as_str()) {
                Some(at) => middle = &middle[at + part.len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_runs_of_characters() {
        let p = |s| Pattern::action(s).unwrap();
        assert!(p("deploy.*").matches("deploy.succeeded"));
        assert!(p("deploy.*").matches("deploy."));
        assert!(!p("deploy.*").matches("deploy"));
        assert!(!p("deploy.*").matches("predeploy.x"));
        assert!(p("*.approved").matches("change.approved"));
        assert!(p("*").matches("anything"));
        assert!(p("a*b*c").matches("abc") && p("a*b*c").matches("axxbyyc"));
        assert!(!p("a*b*c").matches("acb"));
        assert!(!p("ab*ba").matches("aba"));
        assert!(p("change.approved").matches("change.approved"));
        assert!(!p("change.approved").matches("change.approved2"));
        assert!(Pattern::action("").is_err());
        assert!(Pattern::action("Deploy.x").is_err());
        assert!(Pattern::actor("svc-*@example.com")
            .unwrap()
            .matches("svc-ci@example.com"));
    }
}
