//! Decisions as code (docs/RULES.md): a rules document of classes of entries (what each must
//! carry, which roles may take it, whether break-glass is allowed), published into the ledger
//! as a `rules.published` entry and enforced on every append after it.
//!
//! - `pattern.rs`: action and actor-id patterns (`deploy.*`), compiled once.
//! - `document.rs`: the document, parsed strictly and checked whole ([`Rules`]).
//! - `judge.rs`: one entry against one version ([`Version::judge`]).
//! - `book.rs`: the version in force at an index ([`RulesBook`]).
//! - `published.rs`: the `rules.published` entry: building it, reading it back.

mod book;
mod document;
mod judge;
mod pattern;
mod published;

pub use self::book::RulesBook;
pub use self::document::{Class, Default, FieldRequirement, LinkRequirement, Role, Rules};
pub(crate) use self::judge::link_indexes;
pub use self::judge::{Linked, Verdict, Version};
pub use self::pattern::Pattern;
pub use self::published::{published_entry, rules_of_entry};

/// The action of the entry that publishes a rules document.
pub const RULES_PUBLISHED: &str = "rules.published";

/// The action of the entry recording a refused append (when refusals are recorded).
pub const AUDIT_REFUSED: &str = "audit.refused";
