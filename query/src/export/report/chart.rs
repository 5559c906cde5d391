//! The report's charts, drawn by plotters' SVG backend: time series with
//! gaps left as gaps, a limit as a dashed line, stacked areas of states.
//! plotters needs no font files for SVG (its text is `<text>`, sized by an
//! estimate), so a chart is a small inline `<svg>`.

use chrono::{DateTime, FixedOffset, Offset, Utc};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::export::zone::Zone;
use kura_store::sample::UnixMillis;

/// A time on a chart's axis: in the report's zone, at its offset at the
/// period's start, so that ticks fall on its round hours and days.
type AxisTime = DateTime<FixedOffset>;

/// The time axis of a period.
#[derive(Clone, Copy, Debug)]
struct Axis {
    offset: FixedOffset,
    from: AxisTime,
    to: AxisTime,
    span_ms: i64,
}

impl Axis {
    fn new(from: UnixMillis, to: UnixMillis, zone: Zone) -> Axis {
        let offset = i32::try_from(zone.offset_ms(from) / 1000)
            .ok()
            .and_then(FixedOffset::east_opt)
            .unwrap_or_else(|| Utc.fix());
        let to = to.max(from + 1);
        Axis { offset, from: Axis::time(offset, from), to: Axis::time(offset, to), span_ms: to - from }
    }

    fn time(offset: FixedOffset, ms: UnixMillis) -> AxisTime {
        DateTime::from_timestamp_millis(ms).unwrap_or_default().with_timezone(&offset)
    }

    fn at(&self, ms: UnixMillis) -> AxisTime {
        Axis::time(self.offset, ms)
    }

    fn label(&self, time: &AxisTime) -> String {
        let format = match self.span_ms {
            span if span > 2 * 86_400_000 => "%m-%d",
            span if span > 2 * 3_600_000 => "%m-%d %H:%M",
            _ => "%H:%M:%S",
        };
        time.format(format).to_string()
    }
}

/// Pixels of a container's chart.
pub const SIZE: (u32, u32) = (560, 200);

/// How a chart's values read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// CPU cores.
    Cores,
    /// Bytes (1024-based).
    Bytes,
    /// Bytes per second.
    BytesPerSecond,
    /// Percent.
    Percent,
    /// A count.
    Count,
}

impl Unit {
    /// The decimals an axis up to `top` needs for cores (round ticks of a
    /// small range are small fractions).
    fn decimals(self, top: f64) -> usize {
        match self {
            Unit::Cores if top < 0.05 => 3,
            Unit::Cores if top < 0.5 => 2,
            Unit::Cores => 1,
            _ => 0,
        }
    }

    /// A value as the axis prints it.
    pub fn label(self, value: f64, decimals: usize) -> String {
        match self {
            Unit::Cores => format!("{value:.decimals$}"),
            Unit::Bytes => human(value, ""),
            Unit::BytesPerSecond => human(value, "/s"),
            Unit::Percent => format!("{value:.0}%"),
            Unit::Count => format!("{value:.0}"),
        }
    }
}

/// `512B`, `1.5KiB`, `64MiB`, `2.0GiB` (and `/s` for rates).
pub fn human(value: f64, suffix: &str) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = value;
    let mut unit = 0;
    while v.abs() >= 1024.0 && unit + 1 < units.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 || v >= 100.0 {
        format!("{v:.0}{}{suffix}", units[unit])
    } else {
        format!("{v:.1}{}{suffix}", units[unit])
    }
}

/// One series of a chart.
#[derive(Clone, Debug)]
pub struct Line {
    /// Its legend.
    pub label: String,
    /// Its colour.
    pub color: RGBColor,
    /// (time, value) in time order; `None` is a gap.
    pub points: Vec<(UnixMillis, Option<f64>)>,
    /// Drawn thin and pale (a maximum beside an average).
    pub faint: bool,
}

/// A chart of lines over a period.
#[derive(Clone, Debug)]
pub struct Chart {
    /// The caption.
    pub title: String,
    /// The values' unit.
    pub unit: Unit,
    /// The series.
    pub lines: Vec<Line>,
    /// A limit, drawn dashed.
    pub limit: Option<(String, f64)>,
    /// The period shown.
    pub from: UnixMillis,
    /// Its end.
    pub to: UnixMillis,
    /// The zone of the time axis.
    pub zone: Zone,
}

/// Colours of the report.
pub mod colors {
    use plotters::style::RGBColor;
    /// Averages, received, read.
    pub const BLUE: RGBColor = RGBColor(31, 119, 180);
    /// Maxima, sent, written.
    pub const ORANGE: RGBColor = RGBColor(255, 127, 14);
    /// Limits.
    pub const RED: RGBColor = RGBColor(214, 39, 40);
    /// Running.
    pub const GREEN: RGBColor = RGBColor(44, 160, 44);
    /// Other states.
    pub const GREY: RGBColor = RGBColor(127, 127, 127);
    /// Paused.
    pub const PURPLE: RGBColor = RGBColor(148, 103, 189);
    /// Restarting.
    pub const YELLOW: RGBColor = RGBColor(188, 189, 34);
}

/// Why a chart could not be drawn.
pub type ChartError = String;

/// The chart as an SVG document.
pub fn svg(chart: &Chart, size: (u32, u32)) -> Result<String, ChartError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        draw(&root, chart).map_err(|e| format!("chart {}: {e}", chart.title))?;
        root.present().map_err(|e| format!("chart {}: {e}", chart.title))?;
    }
    Ok(out)
}

fn draw(root: &DrawingArea<SVGBackend<'_>, Shift>, chart: &Chart) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    let top = chart
        .lines
        .iter()
        .flat_map(|line| line.points.iter().filter_map(|(_, v)| *v))
        .chain(chart.limit.as_ref().map(|(_, limit)| *limit))
        .fold(0.0_f64, f64::max);
    let y_max = if top > 0.0 { top * 1.1 } else { 1.0 };
    let axis = Axis::new(chart.from, chart.to, chart.zone);
    let mut plot = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 14))
        .margin(6)
        .x_label_area_size(22)
        .y_label_area_size(62)
        .build_cartesian_2d(axis.from..axis.to, 0.0..y_max)?;
    let decimals = chart.unit.decimals(y_max);
    plot.configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(6)
        .y_labels(5)
        .x_label_formatter(&|t| axis.label(t))
        .y_label_formatter(&|v| chart.unit.label(*v, decimals))
        .label_style(("sans-serif", 11))
        .draw()?;
    for line in &chart.lines {
        let style = if line.faint { line.color.mix(0.45).stroke_width(1) } else { line.color.stroke_width(2) };
        let mut labelled = false;
        for segment in segments(&line.points) {
            let segment = segment.into_iter().map(|(t, v)| (axis.at(t), v));
            let series = plot.draw_series(LineSeries::new(segment, style))?;
            if !labelled {
                let color = line.color;
                series.label(&line.label).legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], color));
                labelled = true;
            }
        }
    }
    if let Some((label, limit)) = &chart.limit {
        let dashes = DashedLineSeries::new([(axis.from, *limit), (axis.to, *limit)], 6, 4, colors::RED.stroke_width(1));
        plot.draw_series(dashes)?.label(label).legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], colors::RED));
    }
    legend(&mut plot)?;
    Ok(())
}

/// The series' legend, small, in the upper right corner.
fn legend<'a, X: plotters::coord::ranged1d::Ranged, Y: plotters::coord::ranged1d::Ranged>(
    plot: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    plot.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.7))
        .border_style(BLACK.mix(0.15))
        .margin(4)
        .label_font(("sans-serif", 10))
        .draw()
}

/// The runs of present values.
fn segments(points: &[(UnixMillis, Option<f64>)]) -> Vec<Vec<(UnixMillis, f64)>> {
    let mut out: Vec<Vec<(UnixMillis, f64)>> = Vec::new();
    let mut current = Vec::new();
    for &(t, v) in points {
        match v {
            Some(v) => current.push((t, v)),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A stacked area chart of counts per category over time (containers per
/// state): `layers` bottom first, each (label, colour, one count per time).
pub fn stacked_svg(
    title: &str,
    times: &[UnixMillis],
    layers: &[(String, RGBColor, Vec<u32>)],
    (from, to, zone): (UnixMillis, UnixMillis, Zone),
    size: (u32, u32),
) -> Result<String, ChartError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        let draw = || -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
            root.fill(&WHITE)?;
            let totals: Vec<u32> =
                (0..times.len()).map(|i| layers.iter().map(|(_, _, c)| c.get(i).copied().unwrap_or(0)).sum()).collect();
            let y_max = f64::from(totals.iter().copied().max().unwrap_or(0).max(1)) * 1.1;
            let axis = Axis::new(from, to, zone);
            let mut plot = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 14))
                .margin(6)
                .x_label_area_size(22)
                .y_label_area_size(40)
                .build_cartesian_2d(axis.from..axis.to, 0.0..y_max)?;
            plot.configure_mesh()
                .light_line_style(TRANSPARENT)
                .x_labels(6)
                .y_labels(5)
                .x_label_formatter(&|t| axis.label(t))
                .y_label_formatter(&|v| format!("{v:.0}"))
                .label_style(("sans-serif", 11))
                .draw()?;
            // Top layer first: each area reaches down to zero, the next one
            // below is drawn over it.
            for depth in (0..layers.len()).rev() {
                let (label, color, _) = &layers[depth];
                let heights = times.iter().enumerate().map(|(i, &t)| {
                    let height: u32 = layers[..=depth].iter().map(|(_, _, c)| c.get(i).copied().unwrap_or(0)).sum();
                    (axis.at(t), f64::from(height))
                });
                let color = *color;
                plot.draw_series(AreaSeries::new(heights, 0.0, color.mix(0.6)).border_style(color))?
                    .label(label.as_str())
                    .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 12, y + 4)], color.filled()));
            }
            legend(&mut plot)?;
            root.present()?;
            Ok(())
        };
        draw().map_err(|e| format!("chart {title}: {e}"))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_split_a_line() {
        let points = [(0, Some(1.0)), (1, Some(2.0)), (2, None), (3, None), (4, Some(3.0))];
        assert_eq!(segments(&points), vec![vec![(0, 1.0), (1, 2.0)], vec![(4, 3.0)]]);
    }

    #[test]
    fn a_chart_is_a_small_svg_with_its_title_and_limit() {
        let chart = Chart {
            title: "web: CPU (cores)".into(),
            unit: Unit::Cores,
            lines: vec![Line {
                label: "average".into(),
                color: colors::BLUE,
                points: (0..300_i32).map(|i| (i64::from(i) * 60_000, Some(f64::from(i % 7) / 10.0))).collect(),
                faint: false,
            }],
            limit: Some(("limit".into(), 0.5)),
            from: 0,
            to: 300 * 60_000,
            zone: Zone::Utc,
        };
        let svg = svg(&chart, SIZE).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("web: CPU (cores)") && svg.contains("limit"));
        assert!(svg.len() < 20_000, "{} bytes", svg.len());
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512.0, ""), "512B");
        assert_eq!(human(1536.0, "/s"), "1.5KiB/s");
        assert_eq!(human(f64::from(64u32 << 20), ""), "64.0MiB");
    }
}
