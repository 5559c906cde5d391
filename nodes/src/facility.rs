//! The manager's rules for facility ids, names and values (Hinemos 7's
//! `RepositoryValidator` and `CommonValidator`), and the stable rule that
//! turns a container name into a facility id that passes them.
//!
//! Lengths are counted as Java counts them (`String.length()`, UTF-16 code
//! units), although the manager's constants are named `*_MAX_BYTE`.

/// Facility ids: 1 to 512 units of `[A-Za-z0-9-_.@]`.
pub const ID_MAX: usize = 512;
/// Facility names and node names: 1 to 256.
pub const NAME_MAX: usize = 256;
/// Descriptions: at most 256.
pub const DESCRIPTION_MAX: usize = 256;
/// Node variable names: 1 to 128.
pub const VARIABLE_NAME_MAX: usize = 128;
/// Node variable values: 1 to 1024 (an empty value is refused).
pub const VARIABLE_VALUE_MAX: usize = 1024;
/// Host names: 1 to 1024.
pub const HOSTNAME_MAX: usize = 1024;
/// The id the manager keeps for the root of its tree.
pub const ROOT: &str = "_ROOT_";
/// Scopes the manager builds itself: assigning to one, or adding a scope
/// under one, fails with 500 "this facility is built in scope".
pub const BUILT_IN_SCOPES: &[&str] = &["_ROOT_", "REGISTERED", "UNREGISTERED", "OWNER", "OS", "INTERNAL"];

/// How many UTF-16 units `text` is, as the manager counts.
pub fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Whether `c` may appear in a facility id (`^[A-Za-z0-9-_.@]+$`).
pub fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@')
}

/// Why a facility id would be refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty.
    #[error("facility id {0:?} is empty")]
    Empty(String),
    /// Longer than [`ID_MAX`].
    #[error("facility id {id:?} is {units} characters long (the manager takes at most 512)")]
    TooLong {
        /// The id.
        id: String,
        /// Its length.
        units: usize,
    },
    /// A character outside `[A-Za-z0-9-_.@]`.
    #[error("facility id {id:?} holds {found:?} (the manager takes letters, digits, '-', '_', '.' and '@' only)")]
    Character {
        /// The id.
        id: String,
        /// The first character refused.
        found: char,
    },
    /// `_ROOT_`, the tree's root.
    #[error("facility id {0:?} is the manager's root")]
    Root(String),
}

/// Checks a facility id against the manager's rules.
pub fn check_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty(id.to_owned()));
    }
    if let Some(found) = id.chars().find(|c| !is_id_char(*c)) {
        return Err(IdError::Character { id: id.to_owned(), found });
    }
    if units(id) > ID_MAX {
        return Err(IdError::TooLong { id: id.to_owned(), units: units(id) });
    }
    if id == ROOT {
        return Err(IdError::Root(id.to_owned()));
    }
    Ok(())
}

/// A container's facility id: `<host facility id><separator><name>`, as
/// the 2015 scripts named them. When that is not a valid id, the stable
/// rule applies: every character outside `[A-Za-z0-9-_.@]` becomes `_`,
/// the result is cut to 503 characters, and `.` and eight hex digits of
/// the FNV-1a hash of the unmapped id follow, so that two names that map
/// alike still get two ids, and the same name always the same one.
/// Returns the id and whether the rule was needed.
pub fn container_id(host: &str, separator: &str, name: &str) -> (String, bool) {
    let plain = format!("{host}{separator}{name}");
    if check_id(&plain).is_ok() {
        return (plain, false);
    }
    let mapped: String = plain.chars().map(|c| if is_id_char(c) { c } else { '_' }).take(ID_MAX - 9).collect();
    (format!("{mapped}.{:08x}", fnv1a(plain.as_bytes())), true)
}

/// `text` cut to at most `max` UTF-16 units, at a character boundary.
pub fn cut(text: &str, max: usize) -> String {
    let mut used = 0;
    text.chars()
        .take_while(|c| {
            used += c.len_utf16();
            used <= max
        })
        .collect()
}

/// 32-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, &b| (hash ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_managers_pattern_and_length() {
        assert_eq!(check_id("docker_host1-web.1@a"), Ok(()));
        assert!(matches!(check_id(""), Err(IdError::Empty(_))));
        assert!(matches!(check_id("a b"), Err(IdError::Character { found: ' ', .. })));
        assert!(matches!(check_id("é"), Err(IdError::Character { found: 'é', .. })));
        assert!(matches!(check_id(&"a".repeat(513)), Err(IdError::TooLong { units: 513, .. })));
        assert_eq!(check_id(&"a".repeat(512)), Ok(()));
        assert!(matches!(check_id("_ROOT_"), Err(IdError::Root(_))));
    }

    #[test]
    fn container_names_map_by_a_stable_rule() {
        // Docker's names ([a-zA-Z0-9][a-zA-Z0-9_.-]*) pass as they are.
        assert_eq!(container_id("docker_host1", "-", "conteiner_C"), ("docker_host1-conteiner_C".to_owned(), false));
        assert_eq!(container_id("h", "_", "web"), ("h_web".to_owned(), false));
        let (odd, mapped) = container_id("h", "-", "we b/ü");
        assert!(mapped);
        assert_eq!(odd, format!("h-we_b__.{:08x}", fnv1a("h-we b/ü".as_bytes())));
        assert_eq!(check_id(&odd), Ok(()));
        // Stable, and distinct where the plain mapping would collide.
        assert_eq!(container_id("h", "-", "we b/ü").0, odd);
        assert_ne!(container_id("h", "-", "we_b/ü").0, odd);
        // README's example.
        assert_eq!(container_id("h", "-", "we b").0, "h-we_b.06a66a64");
        let (long, mapped) = container_id("h", "-", &"x".repeat(600));
        assert!(mapped);
        assert_eq!(units(&long), ID_MAX);
        assert_eq!(check_id(&long), Ok(()));
    }

    #[test]
    fn cuts_count_utf16_units_at_character_boundaries() {
        assert_eq!(cut("abc", 2), "ab");
        assert_eq!(cut("abc", 5), "abc");
        // U+1F600 is two units: it does not fit in one.
        assert_eq!(cut("a\u{1F600}b", 2), "a");
        assert_eq!(cut("a\u{1F600}b", 3), "a\u{1F600}");
        assert_eq!(units("a\u{1F600}"), 3);
    }
}
