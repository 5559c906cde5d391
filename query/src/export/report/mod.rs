//! `kura report`: a sizing report people would rather look at than read.
//! One self-contained HTML file (inline CSS and SVG, no script, nothing
//! fetched): per host the containers per state and the daemon's
//! availability over time; per container CPU against its limit, memory in
//! use against its limit, network and disk; a summary table with averages,
//! p95s, maxima, limits, OOM kills, restarts and a recommendation by the
//! rules it prints ([`recommend::RULES`]). `--format svg` writes one chart.
//!
//! - [`chart`]: the charts (plotters' SVG backend).
//! - [`recommend`]: the limit rules and flags.

pub mod chart;
pub mod recommend;

use std::fmt::Write as _;
use std::io::Write;

use kura_store::sample::UnixMillis;

use self::chart::{colors, Chart, Line, Unit};
use self::recommend::{recommend, Enough, Flag, Recommendation};
use crate::cli::{ChartMetric, ReportArgs, ReportFormat};
use crate::error::QueryError;
use crate::history::container::Buckets;
use crate::history::hosts::{self, HostBucket, StateCounts, STATES};
use crate::history::metric::{Agg, Metric};
use crate::history::ContainerHistory;
use crate::sizing::{self, Output, Period};
use kura_store::duration::parse_duration;

/// The most points a chart's line has: the report's step is the period
/// divided by this, rounded up to a round duration.
const CHART_POINTS: i64 = 300;

/// The aggregates the charts draw: average and maximum per bucket.
const AGGS: [Agg; 2] = [Agg::Avg, Agg::Max];

/// `kura report`.
pub fn run(args: &ReportArgs, now: UnixMillis) -> Result<(), QueryError> {
    let min_history =
        parse_duration(&args.min_history).map_err(|e| QueryError::Usage(format!("--min-history: {e}")))?;
    let enough = Enough { span_ms: sizing::millis(min_history), samples: args.min_samples };
    let period = Period::open(&args.period, now)?;
    let spec = period.spec(chart_step(period.to - period.from), AGGS.to_vec(), true);
    let plan = period.plan(&spec)?;
    let output = Output::create(args.output.as_deref())?;
    match args.format {
        ReportFormat::Svg => {
            if plan.len() != 1 {
                return Err(QueryError::Usage(format!(
                    "--format svg draws one container's chart; {} selected (choose one with -n NAME or -c ID)",
                    plan.len()
                )));
            }
            let mut svg = None;
            plan.run(&period.reader, &spec, 1, |history| {
                svg = Some(container_chart(&history, args.metric, &spec.buckets, &period)?);
                Ok(())
            })?;
            let mut out = output.writer()?;
            out.write_all(svg.unwrap_or_default().as_bytes())?;
            out.flush()?;
        }
        ReportFormat::Html => {
            let bar = sizing::progress(plan.len(), "report");
            let mut histories = Vec::with_capacity(plan.len());
            plan.run(&period.reader, &spec, sizing::threads(), |history| {
                histories.push(history);
                bar.inc(1);
                Ok(())
            })?;
            bar.finish_and_clear();
            let mut host_rows = Vec::new();
            for host in &period.hosts {
                let mut counts = StateCounts::new(&spec.buckets);
                histories.iter().filter(|h| h.host == *host).for_each(|h| counts.add(h));
                host_rows.push((host.clone(), hosts::host_buckets(&period.reader, host, &spec, &counts)?));
            }
            let page =
                Page { period: &period, buckets: &spec.buckets, histories: &histories, hosts: &host_rows, now, enough };
            let mut out = output.writer()?;
            out.write_all(page.html()?.as_bytes())?;
            out.flush()?;
        }
    }
    output.commit()
}

/// The chart step for a period of `span_ms`: at most [`CHART_POINTS`]
/// buckets, the width a round duration (at least 1 minute).
fn chart_step(span_ms: i64) -> i64 {
    const STEPS_MIN: [i64; 12] = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440];
    let wanted = span_ms.div_euclid(CHART_POINTS).max(1);
    STEPS_MIN.iter().map(|m| m * 60_000).find(|&step| step >= wanted).unwrap_or(86_400_000)
}

struct Page<'a> {
    period: &'a Period,
    buckets: &'a Buckets,
    histories: &'a [ContainerHistory],
    hosts: &'a [(String, Vec<HostBucket>)],
    now: UnixMillis,
    enough: Enough,
}

impl Page<'_> {
    fn html(&self) -> Result<String, QueryError> {
        let zone = self.period.zone;
        let mut html = String::with_capacity(64 * 1024 * self.histories.len().max(1));
        html.push_str(HEAD);
        let _ = write!(
            html,
            "<h1>Sizing report</h1>\n<p class=\"meta\">{} to {} ({} containers on {}). Made by kura {} at {}.</p>\n",
            zone.format(self.period.from),
            zone.format(self.period.to),
            self.histories.len(),
            escape(&self.period.hosts.join(", ")),
            env!("CARGO_PKG_VERSION"),
            zone.format(self.now),
        );
        html.push_str("<section id=\"rules\"><h2>How limits are recommended</h2><ul>\n");
        for rule in recommend::RULES {
            let _ = writeln!(html, "<li>{}</li>", escape(rule));
        }
        html.push_str("</ul></section>\n");
        let verdicts: Vec<Recommendation> = self.histories.iter().map(|h| recommend(h, None, self.enough)).collect();
        self.summary(&mut html, &verdicts);
        for (host, rows) in self.hosts {
            self.host(&mut html, host, rows)?;
        }
        for (history, verdict) in self.histories.iter().zip(&verdicts) {
            self.container(&mut html, history, verdict)?;
        }
        html.push_str("</body></html>\n");
        Ok(html)
    }

    fn summary(&self, html: &mut String, verdicts: &[Recommendation]) {
        html.push_str(
            "<section id=\"summary\"><h2>Summary</h2><table>\n<thead><tr><th>host</th><th>container</th>\
             <th>CPU cores avg / p95 / max</th><th>CPU limit</th><th>recommended</th>\
             <th>memory avg / p95 / max</th><th>memory limit</th><th>recommended</th>\
             <th>network rx / tx</th><th>disk read / write</th><th>OOM kills</th><th>restarts</th><th>flags</th></tr></thead><tbody>\n",
        );
        for (h, verdict) in self.histories.iter().zip(verdicts) {
            let p = |metric: Metric| h.figures.period.get(metric.index()).copied().unwrap_or_default();
            let (cpu, mem) = (p(Metric::CpuCores), p(Metric::MemBytes));
            let cores = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
            let bytes = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| chart::human(v, ""));
            let rate = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| chart::human(v, "/s"));
            let withheld = verdict.withheld.as_deref().map(|why| format!("none: {why}"));
            let cpu_advice = verdict
                .cpu
                .map(|a| format!("{:.2} <small>({:.3})</small>", a.limit, a.raw))
                .or_else(|| withheld.clone())
                .unwrap_or_else(|| "-".to_owned());
            let mem_advice = verdict
                .memory
                .map(|a| chart::human(rate_f64(a.limit), ""))
                .or(withheld)
                .unwrap_or_else(|| "-".to_owned());
            let flags: Vec<String> = verdict
                .flags
                .iter()
                .map(|f| {
                    format!("<span class=\"{}\">{}</span>", if f.tight() { "tight" } else { "note" }, escape(&f.text()))
                })
                .collect();
            // The figures as data attributes, for scripts that read the report.
            let data = format!(
                " data-host=\"{}\" data-container=\"{}\" data-cpu-limit=\"{}\" data-cpu-recommended=\"{}\" \
                 data-cpu-raw=\"{}\" data-memory-limit=\"{}\" data-memory-recommended=\"{}\" data-oom-kills=\"{}\" data-flags=\"{}\"",
                escape(&h.host),
                escape(&h.series.container.name),
                h.limits.cpu_cores.map(|c| c.to_string()).unwrap_or_default(),
                verdict.cpu.map(|a| format!("{:.2}", a.limit)).unwrap_or_default(),
                verdict.cpu.map(|a| format!("{:.4}", a.raw)).unwrap_or_default(),
                h.limits.memory_bytes.map(|m| m.to_string()).unwrap_or_default(),
                verdict.memory.map(|a| a.limit.to_string()).unwrap_or_default(),
                h.oom_kills,
                verdict.flags.iter().map(Flag::key).collect::<Vec<_>>().join(" "),
            );
            let _ = writeln!(
                html,
                "<tr{data}><td>{}</td><td><a href=\"#{}\">{}</a></td><td>{} / {} / {}</td><td>{}</td><td>{}</td>\
                 <td>{} / {} / {}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&h.host),
                anchor(h),
                escape(&h.series.container.name),
                cores(cpu.avg),
                cores(cpu.p95),
                cores(cpu.max),
                h.limits.cpu_cores.map_or_else(|| "none".to_owned(), |c| format!("{c:.2}")),
                cpu_advice,
                bytes(mem.avg),
                bytes(mem.p95),
                bytes(mem.max),
                h.limits.memory_bytes.map_or_else(|| "none".to_owned(), |m| chart::human(rate_f64(m), "")),
                mem_advice,
                rate(p(Metric::NetRxBps).avg),
                rate(p(Metric::NetTxBps).avg),
                rate(p(Metric::DiskReadBps).avg),
                rate(p(Metric::DiskWriteBps).avg),
                h.oom_kills,
                h.restarts,
                flags.join("<br>"),
            );
        }
        html.push_str("</tbody></table></section>\n");
    }

    fn host(&self, html: &mut String, host: &str, rows: &[HostBucket]) -> Result<(), QueryError> {
        let times: Vec<UnixMillis> = rows.iter().map(|r| self.buckets.start(r.index)).collect();
        let palette = [colors::GREEN, colors::YELLOW, colors::PURPLE, colors::GREY, colors::BLUE, colors::RED];
        let layers: Vec<(String, plotters::style::RGBColor, Vec<u32>)> = STATES
            .iter()
            .zip(palette)
            .enumerate()
            .map(|(i, (state, color))| (state.to_string(), color, rows.iter().map(|r| r.states[i]).collect()))
            .collect();
        let span = (self.period.from, self.period.to, self.period.zone);
        let states = chart::stacked_svg(&format!("{host}: containers per state"), &times, &layers, span, chart::SIZE)
            .map_err(chart_error)?;
        let availability = Chart {
            title: format!("{host}: sweeps that reached the daemon"),
            unit: Unit::Percent,
            lines: vec![Line {
                label: "available".into(),
                color: colors::GREEN,
                points: rows.iter().map(|r| (self.buckets.start(r.index), r.up_pct)).collect(),
                faint: false,
            }],
            limit: None,
            from: self.period.from,
            to: self.period.to,
            zone: self.period.zone,
        };
        let availability = chart::svg(&availability, chart::SIZE).map_err(chart_error)?;
        let _ = writeln!(
            html,
            "<section class=\"host\"><h2>Host {}</h2><div class=\"charts\">{states}{availability}</div></section>",
            escape(host)
        );
        Ok(())
    }

    fn container(&self, html: &mut String, h: &ContainerHistory, verdict: &Recommendation) -> Result<(), QueryError> {
        let id: String = h.series.container.id.chars().take(12).collect();
        let _ = write!(
            html,
            "<section class=\"container\" id=\"{}\"><h3>{} <small>{} on {}, image {}</small></h3>",
            anchor(h),
            escape(&h.series.container.name),
            escape(&id),
            escape(&h.host),
            escape(&h.series.container.image)
        );
        if let Some(why) = &verdict.withheld {
            let _ = write!(html, "<p class=\"note\">No recommendation: {}.</p>", escape(why));
        }
        html.push_str("<div class=\"charts\">");
        for metric in [ChartMetric::Cpu, ChartMetric::Mem, ChartMetric::Net, ChartMetric::Disk] {
            html.push_str(&container_chart(h, metric, self.buckets, self.period)?);
        }
        html.push_str("</div></section>\n");
        Ok(())
    }
}

/// One chart of one container.
fn container_chart(
    h: &ContainerHistory,
    metric: ChartMetric,
    buckets: &Buckets,
    period: &Period,
) -> Result<String, QueryError> {
    let series = |m: Metric, agg: usize| -> Vec<(UnixMillis, Option<f64>)> {
        h.figures
            .buckets
            .iter()
            .map(|b| (buckets.start(b.index), b.values.get(m.index() * AGGS.len() + agg).copied().flatten()))
            .collect()
    };
    let line = |label: &str, color, points, faint| Line { label: label.to_owned(), color, points, faint };
    let name = &h.series.container.name;
    let (title, unit, lines, limit) = match metric {
        ChartMetric::Cpu => (
            format!("{name}: CPU (cores)"),
            Unit::Cores,
            vec![
                line("max", colors::ORANGE, series(Metric::CpuCores, 1), true),
                line("average", colors::BLUE, series(Metric::CpuCores, 0), false),
            ],
            h.limits.cpu_cores.map(|c| ("limit".to_owned(), c)),
        ),
        ChartMetric::Mem => (
            format!("{name}: memory in use"),
            Unit::Bytes,
            vec![
                line("max", colors::ORANGE, series(Metric::MemBytes, 1), true),
                line("average", colors::BLUE, series(Metric::MemBytes, 0), false),
            ],
            h.limits.memory_bytes.map(|m| ("limit".to_owned(), rate_f64(m))),
        ),
        ChartMetric::Net => (
            format!("{name}: network"),
            Unit::BytesPerSecond,
            vec![
                line("received", colors::BLUE, series(Metric::NetRxBps, 0), false),
                line("sent", colors::ORANGE, series(Metric::NetTxBps, 0), false),
            ],
            None,
        ),
        ChartMetric::Disk => (
            format!("{name}: disk"),
            Unit::BytesPerSecond,
            vec![
                line("read", colors::BLUE, series(Metric::DiskReadBps, 0), false),
                line("written", colors::ORANGE, series(Metric::DiskWriteBps, 0), false),
            ],
            None,
        ),
    };
    let chart = Chart { title, unit, lines, limit, from: period.from, to: period.to, zone: period.zone };
    chart::svg(&chart, chart::SIZE).map_err(chart_error)
}

fn rate_f64(bytes: u64) -> f64 {
    crate::rate::approx_f64(bytes)
}

fn chart_error(reason: String) -> QueryError {
    QueryError::Output(std::io::Error::other(reason))
}

/// The section id of a container: its host and 12-character id.
fn anchor(h: &ContainerHistory) -> String {
    let id: String = h.series.container.id.chars().take(12).collect();
    format!("c-{}-{}", escape(&h.host), escape(&id))
}

/// Text for HTML: `&`, `<`, `>`, `"` and `'` escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const HEAD: &str = "<!DOCTYPE html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>kura sizing report</title>
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { margin-bottom: 0.2em; } .meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; vertical-align: top; }
th { background: #f3f3f3; } td:nth-child(-n+2) { text-align: left; white-space: nowrap; }
.charts { display: flex; flex-wrap: wrap; gap: 0.5em; }
.charts svg { border: 1px solid #e3e3e3; }
.tight { color: #b00; } .note { color: #666; }
section.container { margin-top: 1.5em; }
small { color: #666; font-weight: normal; }
</style></head><body>
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_step_is_round_and_keeps_lines_short() {
        assert_eq!(chart_step(30 * 86_400_000), 3 * 3_600_000);
        assert_eq!(chart_step(3_600_000), 60_000);
        assert_eq!(chart_step(10_000), 60_000);
        assert!(30 * 86_400_000 / chart_step(30 * 86_400_000) <= CHART_POINTS);
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(escape("<web & \"db\">"), "&lt;web &amp; &quot;db&quot;&gt;");
    }
}
