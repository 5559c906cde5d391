//! The Prometheus text exposition format, version 0.0.4, written by hand
//! into one buffer.
//!
//! What the format asks for (Prometheus' `docs/instrumenting/exposition_formats.md`
//! and the parser in `model/textparse/promparse.go`): each family's
//! `# HELP` and `# TYPE` lines come first and all its samples follow in
//! one group; label values escape `\`, `"` and line feeds (`\\`, `\"`,
//! `\n`), help texts `\` and line feeds; a value is a Go float (`NaN` and
//! `+Inf` exist, but kura writes neither); no timestamps (see
//! [`super`]). Lines end with `\n`, the last one included.
//!
//! A container's labels are the same on every one of its series, so they
//! are escaped once per scrape into a [`LabelSet`] and copied after that.
//! The text goes to its sink (the HTTP body, or a gzip encoder in front
//! of it) in chunks as it is written.

use std::fmt::Write as _;
use std::io;

/// The `Content-Type` of this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric's type, as `# TYPE` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up, except when its source restarts.
    Counter,
    /// Goes up and down.
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// A metric family: its name, help text and type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Family {
    /// The metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Counter or gauge.
    pub kind: Kind,
}

/// A sample's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// A count or a number of bytes, written exactly.
    Int(u64),
    /// A signed integer (`-1` for "none").
    Signed(i64),
    /// Seconds and other fractions.
    Float(f64),
}

/// Label pairs rendered once: `name="value",name="value"`, values escaped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSet(String);

impl LabelSet {
    /// No labels.
    pub fn new() -> LabelSet {
        LabelSet::default()
    }

    /// Adds `name="value"`. `name` must be a valid label name (callers
    /// pass constants or [`label_name`]'s output).
    pub fn push(&mut self, name: &str, value: &str) {
        if !self.0.is_empty() {
            self.0.push(',');
        }
        self.0.push_str(name);
        self.0.push_str("=\"");
        escape_into(&mut self.0, value, true);
        self.0.push('"');
    }

    /// This set with `name="value"` added.
    pub fn with(&self, name: &str, value: &str) -> LabelSet {
        let mut set = self.clone();
        set.push(name, value);
        set
    }

    /// Whether the set has no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The rendered pairs.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How much text [`TextWriter`] holds before it hands it to its sink.
pub const CHUNK: usize = 32 * 1024;

/// Writes samples, each family's `# HELP` and `# TYPE` lines before its
/// first sample, into a sink, [`CHUNK`] bytes at a time (so a scrape
/// holds a chunk of text, not the whole exposition). The caller writes
/// each family's samples together (a family that comes back after another
/// one would be a second group, which the format forbids).
#[derive(Debug)]
pub struct TextWriter<W: io::Write> {
    sink: W,
    out: String,
    current: Option<&'static str>,
    samples: usize,
    /// The sink's first error; nothing is written after it.
    failed: Option<io::Error>,
}

impl<W: io::Write> TextWriter<W> {
    /// A writer into `sink`.
    pub fn new(sink: W) -> TextWriter<W> {
        TextWriter { sink, out: String::with_capacity(CHUNK + 1024), current: None, samples: 0, failed: None }
    }

    /// One sample of `family`, with `labels` and then `extra` (a label
    /// only this series has, e.g. `cpu="cpu00"`). A float that is not
    /// finite is left out: it never comes from a stored counter.
    pub fn sample(&mut self, family: &Family, labels: &LabelSet, extra: Option<(&str, &str)>, value: Value) {
        if matches!(value, Value::Float(x) if !x.is_finite()) || self.failed.is_some() {
            return;
        }
        if self.current != Some(family.name) {
            self.header(family);
        }
        self.out.push_str(family.name);
        if !labels.is_empty() || extra.is_some() {
            self.out.push('{');
            self.out.push_str(labels.as_str());
            if let Some((name, value)) = extra {
                if !labels.is_empty() {
                    self.out.push(',');
                }
                self.out.push_str(name);
                self.out.push_str("=\"");
                escape_into(&mut self.out, value, true);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        // Writing to a String cannot fail.
        let _ = match value {
            Value::Int(x) => write!(self.out, "{x}"),
            Value::Signed(x) => write!(self.out, "{x}"),
            Value::Float(x) => write!(self.out, "{x}"),
        };
        self.out.push('\n');
        self.samples += 1;
        if self.out.len() >= CHUNK {
            self.drain();
        }
    }

    /// How many samples were written.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Hands the rest to the sink and returns it, or the sink's first error.
    pub fn finish(mut self) -> io::Result<W> {
        self.drain();
        match self.failed {
            Some(error) => Err(error),
            None => Ok(self.sink),
        }
    }

    fn drain(&mut self) {
        if self.failed.is_none() {
            if let Err(error) = self.sink.write_all(self.out.as_bytes()) {
                self.failed = Some(error);
            }
        }
        self.out.clear();
    }

    fn header(&mut self, family: &Family) {
        self.current = Some(family.name);
        self.out.push_str("# HELP ");
        self.out.push_str(family.name);
        self.out.push(' ');
        escape_into(&mut self.out, family.help, false);
        self.out.push_str("\n# TYPE ");
        self.out.push_str(family.name);
        self.out.push(' ');
        self.out.push_str(family.kind.as_str());
        self.out.push('\n');
    }
}

/// Appends `text` escaped: `\` and line feeds always, `"` in label values.
fn escape_into(out: &mut String, text: &str, label_value: bool) {
    if !text.contains(['\\', '\n', '"']) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if label_value => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// A label name made of `prefix` and `name`, with every character outside
/// `[a-zA-Z0-9_]` replaced by `_`, as cAdvisor turns Docker labels into
/// `container_label_*` names (`com.docker.compose.service` ->
/// `container_label_com_docker_compose_service`).
pub fn label_name(prefix: &str, name: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + name.len());
    out.push_str(prefix);
    out.extend(name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: Family = Family { name: "kura_host_up", help: "Whether\\the \"daemon\"\nanswered.", kind: Kind::Gauge };
    const DOWN: Family = Family { name: "kura_store_write_errors_total", help: "Refused.", kind: Kind::Counter };

    #[test]
    fn families_and_samples_are_written_exactly() {
        let mut writer = TextWriter::new(Vec::new());
        let mut labels = LabelSet::new();
        labels.push("host", "a\\b\"c\nd");
        writer.sample(&UP, &labels, None, Value::Int(1));
        writer.sample(&UP, &labels, Some(("cpu", "cpu00")), Value::Float(0.5));
        writer.sample(&UP, &LabelSet::new(), None, Value::Signed(-1));
        writer.sample(&UP, &LabelSet::new(), Some(("state", "x")), Value::Float(f64::NAN));
        writer.sample(&UP, &LabelSet::new(), Some(("state", "running")), Value::Float(1e-7));
        writer.sample(&DOWN, &LabelSet::new(), None, Value::Int(0));
        assert_eq!(writer.samples(), 5);
        assert_eq!(
            String::from_utf8(writer.finish().unwrap()).unwrap(),
            "# HELP kura_host_up Whether\\\\the \"daemon\"\\nanswered.\n\
             # TYPE kura_host_up gauge\n\
             kura_host_up{host=\"a\\\\b\\\"c\\nd\"} 1\n\
             kura_host_up{host=\"a\\\\b\\\"c\\nd\",cpu=\"cpu00\"} 0.5\n\
             kura_host_up -1\n\
             kura_host_up{state=\"running\"} 0.0000001\n\
             # HELP kura_store_write_errors_total Refused.\n\
             # TYPE kura_store_write_errors_total counter\n\
             kura_store_write_errors_total 0\n"
        );
    }

    #[test]
    fn label_names_keep_only_word_characters() {
        assert_eq!(
            label_name("container_label_", "com.docker.compose.service"),
            "container_label_com_docker_compose_service"
        );
        assert_eq!(label_name("container_label_", "é-1"), "container_label___1");
        assert_eq!(LabelSet::new().with("a", "1").with("b", "2").as_str(), "a=\"1\",b=\"2\"");
    }
}
