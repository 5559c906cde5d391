//! Errors as every kura program prints them: one line on stderr, the
//! error and each cause below it said once.

/// An error and every cause below it, `outer: inner: ...`, each said once
/// (an error that already quotes its cause is not followed by it again).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = cause.source();
    }
    message
}

/// A message on one line: multi-line reasons (a regex error draws a caret
/// under the pattern) are joined with single spaces.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("quoting: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[test]
    fn causes_are_said_once_on_one_line() {
        let cause = || std::io::Error::other("disk\n  full");
        assert_eq!(one_line(&chain(&Outer(cause()))), "outer: disk full");
        assert_eq!(one_line(&chain(&Quoting(cause()))), "quoting: disk full");
    }
}
