//! Output lines prefixed with their container's name (`web1: ...`), for a
//! command run in several containers one after another. Each stream has its
//! own prefixer: a line is written whole once its newline arrives, so
//! stdout and stderr lines never mix mid-line.

use std::io::{self, Write};

/// Writes the lines fed to it, each after the prefix.
#[derive(Debug)]
pub struct LinePrefixer {
    prefix: Vec<u8>,
    pending: Vec<u8>,
}

impl LinePrefixer {
    /// A prefixer writing `<name>: ` before each line.
    pub fn new(name: &str) -> LinePrefixer {
        LinePrefixer { prefix: format!("{name}: ").into_bytes(), pending: Vec::new() }
    }

    /// Writes every line that `chunk` completes; keeps a partial last line
    /// for the next chunk.
    pub fn feed(&mut self, chunk: &[u8], out: &mut impl Write) -> io::Result<()> {
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            let (line, after) = rest.split_at(end + 1);
            out.write_all(&self.prefix)?;
            out.write_all(&self.pending)?;
            out.write_all(line)?;
            self.pending.clear();
            rest = after;
        }
        self.pending.extend_from_slice(rest);
        Ok(())
    }

    /// Writes a partial last line, ended with a newline.
    pub fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        if !self.pending.is_empty() {
            out.write_all(&self.prefix)?;
            out.write_all(&self.pending)?;
            out.write_all(b"\n")?;
            self.pending.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn prefixed(chunks: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut p = LinePrefixer::new("web1");
        for chunk in chunks {
            p.feed(chunk, &mut out).unwrap();
        }
        p.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn lines_split_across_chunks_are_written_whole() {
        assert_eq!(prefixed(&[b"a\nb", b"c\n\nd"]), b"web1: a\nweb1: bc\nweb1: \nweb1: d\n");
        assert_eq!(prefixed(&[b""]), b"");
        assert_eq!(prefixed(&[b"\xff\n"]), b"web1: \xff\n");
    }

    proptest! {
        /// However the output is cut into chunks, the result is the same.
        #[test]
        fn chunking_does_not_change_the_lines(text in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'x'), any::<u8>()], 0..200), cuts in proptest::collection::vec(0usize..200, 0..8)) {
            let mut cuts: Vec<usize> = cuts.into_iter().filter(|c| *c <= text.len()).collect();
            cuts.sort_unstable();
            cuts.dedup();
            let mut chunks = Vec::new();
            let mut start = 0;
            for cut in cuts {
                chunks.push(&text[start..cut]);
                start = cut;
            }
            chunks.push(&text[start..]);
            prop_assert_eq!(prefixed(&chunks), prefixed(&[&text]));
        }
    }
}
