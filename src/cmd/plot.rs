//! `cue-bgp scenario --plot FILE.svg`: the routes held at each observer
//! over time with the steps marked, and the latency distribution of
//! announcements and withdrawals through the router.

use cue::scenario::Report;
use plotters::prelude::*;
use std::path::Path;

/// Colours of the observers' lines and of the two kinds.
const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Draws the report into an SVG file at `path`.
pub fn plot(report: &Report, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1100, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(draw)?;
    let (top, bottom) = root.split_vertically(440);
    held(report, &top)?;
    distribution(report, &bottom)?;
    root.present().map_err(draw)?;
    Ok(())
}

/// A drawing error as text (the backend's errors are not `Sync`).
fn draw<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("plot: {e}")
}

/// Routes held at each observer over time; a line at each step's start,
/// with its index.
fn held(
    report: &Report,
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
) -> anyhow::Result<()> {
    let end = report
        .steps
        .iter()
        .map(|s| s.start_s + s.duration_s)
        .chain(report.held.iter().map(|h| h.0))
        .fold(1.0f64, f64::max);
    let top = report
        .held
        .iter()
        .flat_map(|h| h.1.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64
        * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "Routes held at the observers (steps marked)",
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..end, 0f64..top)
        .map_err(draw)?;
    chart
        .configure_mesh()
        .x_desc("seconds from the first step")
        .y_desc("routes")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(draw)?;
    for s in &report.steps {
        let grey = BLACK.mix(0.25);
        chart
            .draw_series(LineSeries::new([(s.start_s, 0.0), (s.start_s, top)], grey))
            .map_err(draw)?;
        let label = Text::new(
            s.index.to_string(),
            (s.start_s, top * 0.97),
            ("sans-serif", 13),
        );
        chart.draw_series(std::iter::once(label)).map_err(draw)?;
    }
    for o in 0..report.observers {
        let colour = COLOURS[o % COLOURS.len()];
        let points = report
            .held
            .iter()
            .map(|(t, v)| (*t, v.get(o).copied().unwrap_or(0) as f64));
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(draw)?
            .label(format!("observer {o}"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(draw)?;
    Ok(())
}

/// The latency at each percentile, announcements and withdrawals, on a
/// logarithmic axis.
fn distribution(
    report: &Report,
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
) -> anyhow::Result<()> {
    let d = &report.distribution;
    let all = d.announce_ms.iter().chain(&d.withdraw_ms);
    let low = all
        .clone()
        .copied()
        .filter(|v| *v > 0.0)
        .fold(f64::MAX, f64::min);
    let high = all.copied().fold(0.0f64, f64::max);
    let (low, high) = if high > 0.0 {
        (low.min(high) / 2.0, high * 2.0)
    } else {
        (0.01, 1.0)
    };
    let mut chart = ChartBuilder::on(area)
        .caption(
            "Latency through the router, by percentile",
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d((low..high).log_scale(), 0f64..100f64)
        .map_err(draw)?;
    chart
        .configure_mesh()
        .x_desc("milliseconds, written to received (log)")
        .y_desc("percentile")
        .draw()
        .map_err(draw)?;
    for (i, (name, values)) in [("announce", &d.announce_ms), ("withdraw", &d.withdraw_ms)]
        .into_iter()
        .enumerate()
    {
        if values.is_empty() {
            continue;
        }
        let colour = COLOURS[i];
        let points = values
            .iter()
            .enumerate()
            .map(|(q, v)| (v.max(low), q as f64));
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(draw)?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(draw)?;
    Ok(())
}
