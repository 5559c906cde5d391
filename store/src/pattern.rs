//! Container patterns as operators write them, for every kura command that
//! selects containers: `-n NAME` / `-c ID`, a trailing `*` for a prefix
//! (`-n web*`, `-c 4dfd*`), as the 2015 scripts took them.

use std::fmt;

/// A `-n NAME` or `-c ID` pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerPattern {
    /// `-n`: the name (without Docker's leading `/`), or its prefix.
    Name {
        /// The name, or the prefix without its `*`.
        stem: String,
        /// Whether a trailing `*` was written.
        prefix: bool,
    },
    /// `-c`: the id's first characters (lower case).
    Id {
        /// The hexadecimal characters, without a `*`.
        stem: String,
        /// Whether a trailing `*` was written.
        prefix: bool,
    },
}

/// A pattern that cannot select anything as written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatternError {
    /// A `*` anywhere but at the end of `-n`.
    #[error("-n {0:?}: only a trailing * is supported")]
    NameStar(String),
    /// `-c` with something other than hexadecimal digits (and a trailing `*`).
    #[error("-c {0:?}: a container id is hexadecimal")]
    IdNotHex(String),
}

impl ContainerPattern {
    /// `-n NAME`.
    pub fn name(text: &str) -> Result<ContainerPattern, PatternError> {
        let (stem, prefix) = match text.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (text, false),
        };
        if stem.contains('*') {
            return Err(PatternError::NameStar(text.to_owned()));
        }
        Ok(ContainerPattern::Name { stem: stem.to_owned(), prefix })
    }

    /// `-c ID`.
    pub fn id(text: &str) -> Result<ContainerPattern, PatternError> {
        let (stem, prefix) = match text.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (text, false),
        };
        if stem.is_empty() || !stem.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(PatternError::IdNotHex(text.to_owned()));
        }
        Ok(ContainerPattern::Id { stem: stem.to_ascii_lowercase(), prefix })
    }

    /// Whether the container `name` (with or without Docker's leading `/`)
    /// with the id `id` matches. An id always matches by its first
    /// characters, as Docker takes ids; a name only by prefix when `*` was written.
    pub fn matches(&self, name: &str, id: &str) -> bool {
        match self {
            ContainerPattern::Name { stem, prefix: true } => bare(name).starts_with(stem.as_str()),
            ContainerPattern::Name { stem, prefix: false } => bare(name) == stem,
            ContainerPattern::Id { stem, .. } => id.starts_with(stem.as_str()),
        }
    }

    /// Whether a trailing `*` was written: the operator asked for every match.
    pub fn is_prefix(&self) -> bool {
        match self {
            ContainerPattern::Name { prefix, .. } | ContainerPattern::Id { prefix, .. } => *prefix,
        }
    }
}

/// A name without Docker's leading `/`.
fn bare(name: &str) -> &str {
    name.strip_prefix('/').unwrap_or(name)
}

impl fmt::Display for ContainerPattern {
    /// As written: `-n web*`, `-c 4dfd0a12`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (flag, stem, prefix) = match self {
            ContainerPattern::Name { stem, prefix } => ("-n", stem, prefix),
            ContainerPattern::Id { stem, prefix } => ("-c", stem, prefix),
        };
        write!(f, "{flag} {stem}{}", if *prefix { "*" } else { "" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_whole_or_by_a_written_prefix() {
        let exact = ContainerPattern::name("web").unwrap();
        assert!(exact.matches("/web", "ab"));
        assert!(exact.matches("web", "ab"));
        assert!(!exact.matches("/web1", "ab"));
        let prefix = ContainerPattern::name("web*").unwrap();
        assert!(prefix.matches("/web1", "ab") && prefix.matches("web", "ab"));
        assert!(!prefix.matches("/db", "ab"));
        assert!(prefix.is_prefix() && !exact.is_prefix());
        assert_eq!(ContainerPattern::name("*").unwrap(), ContainerPattern::Name { stem: String::new(), prefix: true });
        assert_eq!(ContainerPattern::name("w*b"), Err(PatternError::NameStar("w*b".into())));
    }

    #[test]
    fn ids_match_by_their_first_characters_in_any_case() {
        let id = "4dfd0a12b9de0000";
        assert!(ContainerPattern::id("4DFD0A12").unwrap().matches("/x", id));
        assert!(ContainerPattern::id("4dfd*").unwrap().matches("/x", id));
        assert!(!ContainerPattern::id("4dfe").unwrap().matches("/x", id));
        assert_eq!(ContainerPattern::id("xyz"), Err(PatternError::IdNotHex("xyz".into())));
        assert_eq!(ContainerPattern::id("*"), Err(PatternError::IdNotHex("*".into())));
        assert_eq!(ContainerPattern::id("4dfd*").unwrap().to_string(), "-c 4dfd*");
        assert_eq!(ContainerPattern::name("web").unwrap().to_string(), "-n web");
    }
}
