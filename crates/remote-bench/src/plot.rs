//! A hand-made SVG line chart: end-to-end throughput against concurrency, one colour per
//! store; remote (with its default prefetch) solid, the raw loop dashed, apalis dotted. Both
//! axes are logarithmic.

use std::fmt::Write as _;

use crate::report::StoreReport;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 480.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

fn colour(store: &str) -> &'static str {
    match store {
        "memory" => "#2ca02c",
        "sqlite" => "#1f77b4",
        "postgres" => "#d62728",
        "mongodb" => "#9467bd",
        "mysql" => "#ff7f0e",
        "redis" => "#8c564b",
        _ => "#555555",
    }
}

struct Series {
    label: String,
    colour: &'static str,
    dash: &'static str,
    points: Vec<(f64, f64)>,
}

/// The chart as SVG text.
pub(crate) fn svg(reports: &[StoreReport], caption: &str) -> String {
    let mut series = Vec::new();
    for r in reports {
        let c = colour(&r.store);
        let pick = |f: &dyn Fn(&crate::report::DrainRow) -> Option<f64>| -> Vec<(f64, f64)> {
            r.drains
                .iter()
                .filter_map(|d| f(d).map(|v| (d.concurrency as f64, v)))
                .collect()
        };
        series.push(Series {
            label: format!("{} remote", r.store),
            colour: c,
            dash: "",
            points: pick(&|d| d.ours),
        });
        series.push(Series {
            label: format!("{} raw loop", r.store),
            colour: c,
            dash: "8 5",
            points: pick(&|d| d.raw),
        });
        series.push(Series {
            label: format!("{} apalis (best)", r.store),
            colour: c,
            dash: "2 4",
            points: pick(&StoreReport::best_peer),
        });
    }
    series.retain(|s| !s.points.is_empty());
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .collect();
    let (x_min, x_max) = bounds(&xs, 1.0, 64.0);
    let (y_lo, y_hi) = bounds(&ys, 10.0, 1e5);
    let y_min = 10f64.powf(y_lo.log10().floor());
    let y_max = 10f64.powf(y_hi.log10().ceil());
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x_of = |x: f64| {
        let span = (x_max.ln() - x_min.ln()).max(1e-9);
        LEFT + (x.ln() - x_min.ln()) / span * plot_w
    };
    let y_of = |y: f64| {
        let span = (y_max.log10() - y_min.log10()).max(1e-9);
        TOP + plot_h - (y.log10() - y_min.log10()) / span * plot_h
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="18" text-anchor="middle" font-size="14">End-to-end throughput of no-op jobs</text>"#,
        LEFT + plot_w / 2.0,
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="33" text-anchor="middle" font-size="10">{}</text>"#,
        LEFT + plot_w / 2.0,
        escape(caption)
    );
    let mut decade = y_min;
    while decade <= y_max * 1.0001 {
        let y = y_of(decade);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            label(decade)
        );
        decade *= 10.0;
    }
    let mut ticks = xs.clone();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    for x in ticks {
        let px = x_of(x);
        let _ = writeln!(
            out,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#eee"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{x}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 18.0
        );
    }
    let _ = writeln!(
        out,
        r#"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">concurrency (workers)</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 16.0
    );
    let _ = writeln!(
        out,
        r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">jobs per second</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );
    for (i, s) in series.iter().enumerate() {
        let points: Vec<String> = s
            .points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", x_of(*x), y_of(*y)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-dasharray="{}"/>"#,
            points.join(" "),
            s.colour,
            s.dash
        );
        for (x, y) in &s.points {
            let _ = writeln!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                x_of(*x),
                y_of(*y),
                s.colour
            );
        }
        let ly = TOP + 10.0 + i as f64 * 18.0;
        let lx = LEFT + plot_w + 12.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2" stroke-dasharray="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 26.0,
            s.colour,
            s.dash,
            lx + 32.0,
            ly + 4.0,
            escape(&s.label)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn bounds(values: &[f64], lo: f64, hi: f64) -> (f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if min.is_finite() && max.is_finite() && min > 0.0 {
        if max > min {
            (min, max)
        } else {
            (min / 2.0, max * 2.0)
        }
    } else {
        (lo, hi)
    }
}

fn label(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{}k", v / 1e3)
    } else {
        format!("{v}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
