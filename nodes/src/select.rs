//! `-n NAME`: which containers `kura nodes` keeps in step (all by default),
//! as every kura command selects them: a trailing `*` is a prefix match.

/// The containers to keep in step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Selection {
    /// Every container.
    #[default]
    All,
    /// Containers named exactly this.
    Name(String),
    /// Containers whose name starts with this.
    Prefix(String),
}

impl Selection {
    /// Reads `-n NAME` (`web*` is a prefix); `None` is every container.
    pub fn parse(name: Option<&str>) -> Result<Selection, String> {
        let Some(name) = name else {
            return Ok(Selection::All);
        };
        let selection = match name.strip_suffix('*') {
            Some(stem) => Selection::Prefix(stem.to_owned()),
            None => Selection::Name(name.to_owned()),
        };
        match &selection {
            Selection::Name(text) | Selection::Prefix(text) if text.contains('*') => {
                Err(format!("{name:?}: only a trailing * is supported"))
            }
            _ => Ok(selection),
        }
    }

    /// Whether the container named `name` is selected.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Selection::All => true,
            Selection::Name(exact) => name == exact,
            Selection::Prefix(stem) => name.starts_with(stem.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_prefixes() {
        assert!(Selection::parse(None).unwrap().matches("x"));
        let web = Selection::parse(Some("web*")).unwrap();
        assert!(web.matches("web1") && web.matches("web") && !web.matches("db"));
        let exact = Selection::parse(Some("web")).unwrap();
        assert!(exact.matches("web") && !exact.matches("web1"));
        assert!(Selection::parse(Some("w*b*")).is_err());
    }
}
