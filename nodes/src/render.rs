//! How plans and reports are printed: aligned columns for people, JSON for
//! scripts (one element per host).

use std::io::{self, Write};

use crate::apply::{Report, Status};
use crate::plan::Plan;

/// The rows of a plan: `[host, action, target, detail]`, changes then held items.
pub fn plan_rows(plan: &Plan) -> Vec<[String; 4]> {
    let mut rows: Vec<[String; 4]> =
        plan.changes.iter().map(|c| [plan.host.clone(), c.action().to_owned(), c.target(), c.detail()]).collect();
    rows.extend(
        plan.held.iter().map(|h| [plan.host.clone(), format!("held-{}", h.action), h.target.clone(), h.detail.clone()]),
    );
    rows
}

/// The rows of a report: `[host, result, action, target, detail]`.
pub fn report_rows(host: &str, report: &Report) -> Vec<[String; 5]> {
    report
        .outcomes
        .iter()
        .map(|o| {
            let (result, detail) = match &o.status {
                Status::Done => ("done", o.change.detail()),
                Status::Failed(reason) => ("failed", reason.clone()),
                Status::NotAttempted(reason) => ("not-attempted", reason.clone()),
            };
            [host.to_owned(), result.to_owned(), o.change.action().to_owned(), o.change.target(), detail]
        })
        .collect()
}

/// Writes rows under a header, each column as wide as its widest cell
/// (the last one unpadded).
pub fn table<const N: usize>(header: [&str; N], rows: &[[String; N]], out: &mut impl Write) -> io::Result<()> {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut line = |cells: Vec<&str>| -> io::Result<()> {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(header.to_vec())?;
    for row in rows {
        line(row.iter().map(String::as_str).collect())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_the_last_is_not_padded() {
        let mut out = Vec::new();
        let rows = [["a".to_owned(), "long cell".to_owned()], ["bbb".to_owned(), "x".to_owned()]];
        table(["K", "V"], &rows, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "K    V\na    long cell\nbbb  x\n");
    }
}
