//! The history export's rows, as CSV (RFC 4180 with a header row, written
//! by the `csv` crate: `.` decimals, no thousands separators, an empty cell
//! where there is no value) or JSON Lines (one object per row, `null` where
//! there is no value). The columns, in this order (README has the table):
//!
//! `time` (the bucket's start), `host`, `container`, `id` (12 characters),
//! `state` (at the bucket's end), then each [`Metric`] once per aggregate
//! (`cpu_pct_avg`, `cpu_pct_max`, ...), then `restarts` and `oom_kills` in
//! the bucket; with host rows also `host_up_pct`, `containers_<state>` per
//! state, `image_bytes`, `container_disk_bytes`, `host_cpu_pct`,
//! `host_mem_pct` (empty in container rows; host rows leave the container
//! columns empty).

use std::io::Write;

use super::zone::Zone;
use crate::error::QueryError;
use crate::history::container::Buckets;
use crate::history::hosts::{HostBucket, STATES};
use crate::history::metric::{Agg, Metric};
use crate::history::ContainerHistory;
use crate::rate;

/// How many columns host rows add: `host_up_pct`, one per state, and four.
const HOST_COLUMNS: usize = 1 + STATES.len() + 4;

/// CSV or JSON Lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowFormat {
    /// RFC 4180 with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// What the rows hold and how they are written.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The aggregates per metric.
    pub aggs: Vec<Agg>,
    /// Whether host rows (and their columns) are written.
    pub hosts: bool,
    /// The zone of the `time` column.
    pub zone: Zone,
}

impl Layout {
    /// The column names, in order.
    pub fn header(&self) -> Vec<String> {
        let mut columns: Vec<String> = ["time", "host", "container", "id", "state"].map(String::from).to_vec();
        for metric in Metric::ALL {
            columns.extend(self.aggs.iter().map(|agg| format!("{}_{agg}", metric.name())));
        }
        columns.extend(["restarts", "oom_kills"].map(String::from));
        if self.hosts {
            columns.push("host_up_pct".into());
            columns.extend(STATES.iter().map(|state| format!("containers_{state}")));
            columns.extend(["image_bytes", "container_disk_bytes", "host_cpu_pct", "host_mem_pct"].map(String::from));
        }
        columns
    }
}

/// Writes rows to `out`.
pub struct RowWriter<W: Write> {
    layout: Layout,
    header: Vec<String>,
    sink: Sink<W>,
    /// The row being written: its cells' bytes end to end ...
    bytes: Vec<u8>,
    /// ... and each cell's end in `bytes`, or `None` for an empty cell.
    cells: Vec<Option<usize>>,
}

enum Sink<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Jsonl(W),
}

impl<W: Write> RowWriter<W> {
    /// A writer of `format`; CSV starts with its header row.
    pub fn new(out: W, format: RowFormat, layout: Layout) -> Result<RowWriter<W>, QueryError> {
        let header = layout.header();
        let sink = match format {
            RowFormat::Csv => {
                let mut csv = csv::Writer::from_writer(out);
                csv.write_record(&header).map_err(csv_error)?;
                Sink::Csv(Box::new(csv))
            }
            RowFormat::Jsonl => Sink::Jsonl(out),
        };
        Ok(RowWriter { layout, header, sink, bytes: Vec::with_capacity(1024), cells: Vec::new() })
    }

    /// One row per bucket of a container.
    pub fn container(&mut self, history: &ContainerHistory, buckets: &Buckets) -> Result<(), QueryError> {
        let id: String = history.series.container.id.chars().take(12).collect();
        let aggs = self.layout.aggs.len();
        for bucket in &history.figures.buckets {
            self.start_row();
            self.text(&self.layout.zone.format(buckets.start(bucket.index)));
            self.text(&history.host);
            self.text(&history.series.container.name);
            self.text(&id);
            match bucket.state {
                Some(state) => self.text(state.as_str()),
                None => self.empty(1),
            }
            for (m, metric) in Metric::ALL.iter().enumerate() {
                for a in 0..aggs {
                    self.number(bucket.values.get(m * aggs + a).copied().flatten(), metric.decimals());
                }
            }
            self.integer(Some(u64::from(bucket.restarts)));
            self.integer(Some(u64::from(bucket.oom_kills)));
            if self.layout.hosts {
                self.empty(HOST_COLUMNS);
            }
            self.end_row()?;
        }
        Ok(())
    }

    /// One row per bucket of a host.
    pub fn host(&mut self, host: &str, rows: &[HostBucket], buckets: &Buckets) -> Result<(), QueryError> {
        let metric_columns = Metric::ALL.len() * self.layout.aggs.len() + 2;
        for row in rows {
            self.start_row();
            self.text(&self.layout.zone.format(buckets.start(row.index)));
            self.text(host);
            self.empty(3 + metric_columns);
            self.number(row.up_pct, 2);
            for &n in &row.states {
                self.integer(Some(u64::from(n)));
            }
            self.integer(row.image_bytes);
            self.integer(row.container_bytes);
            self.number(row.cpu_pct, 2);
            self.number(row.mem_pct, 2);
            self.end_row()?;
        }
        Ok(())
    }

    /// Flushes what is buffered.
    pub fn finish(self) -> Result<(), QueryError> {
        match self.sink {
            Sink::Csv(mut csv) => csv.flush()?,
            Sink::Jsonl(mut out) => out.flush()?,
        }
        Ok(())
    }

    fn start_row(&mut self) {
        self.bytes.clear();
        self.cells.clear();
    }

    fn text(&mut self, text: &str) {
        self.bytes.extend_from_slice(text.as_bytes());
        self.cells.push(Some(self.bytes.len()));
    }

    fn empty(&mut self, n: usize) {
        self.cells.extend(std::iter::repeat_n(None, n));
    }

    fn integer(&mut self, value: Option<u64>) {
        match value {
            Some(v) => {
                push_decimal(&mut self.bytes, v, 0);
                self.cells.push(Some(self.bytes.len()));
            }
            None => self.cells.push(None),
        }
    }

    fn number(&mut self, value: Option<f64>, decimals: usize) {
        match value {
            Some(v) => {
                push_fixed(&mut self.bytes, v, decimals);
                self.cells.push(Some(self.bytes.len()));
            }
            None => self.cells.push(None),
        }
    }

    fn end_row(&mut self) -> Result<(), QueryError> {
        let bytes = &self.bytes;
        let mut start = 0;
        let cells = self.cells.iter().map(|end| match end {
            Some(end) => {
                let cell = &bytes[start..*end];
                start = *end;
                Some(cell)
            }
            None => None,
        });
        match &mut self.sink {
            Sink::Csv(csv) => csv.write_record(cells.map(|c| c.unwrap_or_default())).map_err(csv_error),
            Sink::Jsonl(out) => {
                // Written by hand to keep the columns' order (serde_json's
                // maps sort their keys).
                let mut line = Vec::with_capacity(bytes.len() * 2);
                line.push(b'{');
                for (i, (name, cell)) in self.header.iter().zip(cells).enumerate() {
                    if i > 0 {
                        line.push(b',');
                    }
                    json_string(&mut line, name.as_bytes());
                    line.push(b':');
                    match cell {
                        None => line.extend_from_slice(b"null"),
                        Some(text) if i < TEXT_COLUMNS => json_string(&mut line, text),
                        // Numbers as printed in the CSV: plain decimals are JSON numbers.
                        Some(text) => line.extend_from_slice(text),
                    }
                }
                line.extend_from_slice(b"}\n");
                out.write_all(&line)?;
                Ok(())
            }
        }
    }
}

/// How many columns at the start hold text (`time` to `state`); every
/// other one holds a number or nothing.
const TEXT_COLUMNS: usize = 5;

fn json_string(out: &mut Vec<u8>, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    // Serializing a string cannot fail.
    let _ = serde_json::to_writer(&mut *out, text.as_ref());
}

/// `value` (not negative; a negative one prints as 0) with `decimals` places,
/// rounded half to even, as a plain decimal: never an exponent.
fn push_fixed(out: &mut Vec<u8>, value: f64, decimals: usize) {
    const SCALES: [f64; 5] = [1.0, 10.0, 100.0, 1_000.0, 10_000.0];
    match SCALES.get(decimals).and_then(|scale| rate::round_to_u64(value.max(0.0) * scale)) {
        Some(scaled) => push_decimal(out, scaled, decimals),
        None => out.extend_from_slice(format!("{:.decimals$}", value.max(0.0)).as_bytes()),
    }
}

/// `scaled / 10^decimals` in decimal: `12345` with 2 decimals is `123.45`.
fn push_decimal(out: &mut Vec<u8>, scaled: u64, decimals: usize) {
    let mut digits = [0u8; 24];
    let mut n = scaled;
    let mut len = 0;
    while n > 0 || len <= decimals {
        digits[len] = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
        len += 1;
    }
    for i in (0..len).rev() {
        out.push(digits[i]);
        if i == decimals && decimals > 0 {
            out.push(b'.');
        }
    }
}

fn csv_error(error: csv::Error) -> QueryError {
    match error.into_kind() {
        csv::ErrorKind::Io(e) => QueryError::Output(e),
        other => QueryError::Output(std::io::Error::other(format!("{other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_lists_each_metric_once_per_aggregate() {
        let layout = Layout { aggs: vec![Agg::Avg, Agg::Percentile(95)], hosts: false, zone: Zone::Utc };
        let header = layout.header();
        assert_eq!(&header[..7], ["time", "host", "container", "id", "state", "cpu_pct_avg", "cpu_pct_p95"]);
        assert_eq!(header.len(), 5 + 13 * 2 + 2);
        assert_eq!(&header[header.len() - 2..], ["restarts", "oom_kills"]);
        let with_hosts = Layout { hosts: true, ..layout }.header();
        assert_eq!(with_hosts.len(), 5 + 13 * 2 + 2 + HOST_COLUMNS);
        assert!(with_hosts.contains(&"containers_running".to_owned()));
    }

    #[test]
    fn decimals_are_plain() {
        let fixed = |value: f64, decimals: usize| {
            let mut out = Vec::new();
            push_fixed(&mut out, value, decimals);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(fixed(1e20, 0), "100000000000000000000");
        assert_eq!(fixed(0.123_456, 2), "0.12");
        assert_eq!(fixed(0.125, 2), "0.12", "half to even");
        assert_eq!(fixed(12.5, 0), "12");
        assert_eq!(fixed(0.0, 4), "0.0000");
        assert_eq!(fixed(1234.0, 1), "1234.0");
        assert_eq!(fixed(-0.0001, 2), "0.00");
        assert_eq!(fixed(0.0105, 4), "0.0105");
        for (value, decimals) in [(2.5_f64.sqrt(), 2), (99.999, 2), (7.0, 1), (0.5, 0), (123_456_789.0, 0)] {
            let expected = format!("{value:.decimals$}");
            let ours = fixed(value, decimals);
            assert!(
                (ours.parse::<f64>().unwrap() - expected.parse::<f64>().unwrap()).abs()
                    <= 0.5 / 10f64.powi(i32::try_from(decimals).unwrap()) + 1e-9,
                "{value}: {ours} vs {expected}"
            );
        }
    }

    #[test]
    fn json_lines_keep_the_column_order_and_types() {
        let layout = Layout { aggs: vec![Agg::Avg], hosts: true, zone: Zone::Utc };
        let buckets = Buckets::covering(0, 60_000, 60_000, 0);
        let mut out = Vec::new();
        let mut rows = RowWriter::new(&mut out, RowFormat::Jsonl, layout).unwrap();
        let row = HostBucket { index: 0, up_pct: Some(50.0), image_bytes: Some(7), ..HostBucket::default() };
        rows.host("h\"1", &[row], &buckets).unwrap();
        rows.finish().unwrap();
        let text = String::from_utf8(out).unwrap();
        let value: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(value["host"], "h\"1");
        assert_eq!(value["host_up_pct"], 50.0);
        assert_eq!(value["image_bytes"], 7);
        assert!(value["cpu_pct_avg"].is_null());
        assert!(text.starts_with(r#"{"time":"1970-01-01T00:00:00Z","host":"#), "{text}");
    }
}
