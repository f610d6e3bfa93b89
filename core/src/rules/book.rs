//! The rules in force at any index: the versions a ledger has published, by the leaf of each
//! `rules.published` entry. A version governs every entry after its own leaf, up to the next.

use std::sync::Arc;

use super::document::Rules;
use super::judge::Version;

/// The published rules versions, oldest first.
#[derive(Clone, Debug, Default)]
pub struct RulesBook {
    versions: Vec<(u64, Arc<Rules>)>,
}

impl RulesBook {
    /// True if no rules were ever published: every entry is judged by the schema alone.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// How many versions were published.
    pub fn len(&self) -> usize {
        self.versions.len()
    }

    /// The leaf after which nothing is known (one past the newest version's leaf).
    pub fn last_leaf(&self) -> Option<u64> {
        self.versions.last().map(|(i, _)| *i)
    }

    /// Records the version published at leaf `index` (after every version held).
    pub fn push(&mut self, index: u64, rules: Arc<Rules>) {
        debug_assert!(self.last_leaf().is_none_or(|l| l < index));
        self.versions.push((index, rules));
    }

    /// Forgets versions published at `index` or later (a refused request's, rolled back).
    pub fn truncate_from(&mut self, index: u64) {
        let keep = self.versions.partition_point(|(i, _)| *i < index);
        self.versions.truncate(keep);
    }

    /// The version in force for the entry at `index`: the newest published before it.
    pub fn at(&self, index: u64) -> Option<Version<'_>> {
        let n = self.versions.partition_point(|(i, _)| *i < index);
        n.checked_sub(1).map(|k| Version {
            rules: &self.versions[k].1,
            leaf: Some(self.versions[k].0),
        })
    }

    /// Every version with the leaf that published it, oldest first.
    pub fn versions(&self) -> impl Iterator<Item = (u64, &Arc<Rules>)> {
        self.versions.iter().map(|(i, r)| (*i, r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_version_governs_the_entries_after_its_leaf() {
        let r =
            |v: &str| Arc::new(Rules::from_value(&json!({"version": v, "classes": []})).unwrap());
        let mut b = RulesBook::default();
        assert!(b.at(5).is_none());
        b.push(2, r("a"));
        b.push(7, r("b"));
        assert!(b.at(2).is_none(), "not the entry that publishes it");
        assert_eq!(b.at(3).unwrap().rules.version, "a");
        assert_eq!(b.at(7).unwrap().leaf, Some(2));
        assert_eq!(b.at(8).unwrap().rules.version, "b");
        b.truncate_from(7);
        assert_eq!(b.at(100).unwrap().leaf, Some(2));
        assert_eq!(b.len(), 1);
    }
}
