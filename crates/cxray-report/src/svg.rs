//! Hand-written SVG charts: a trend line with its interval band and control limits, a
//! dot-and-whisker chart of segments, and score distribution bars. Colours are the Okabe-Ito
//! palette, distinguishable with the common colour-vision deficiencies; every chart has axis
//! labels, a legend and a text alternative.

use std::fmt::Write;

use cxray_insights::report::{Distribution, SegmentBreakdown, Trend};
use cxray_insights::retention::Retention;
use cxray_insights::{MetricRow, ThemesSection};

use crate::{esc, num};

pub const BLUE: &str = "#0072B2";
pub const SKY: &str = "#56B4E9";
pub const VERMILLION: &str = "#D55E00";
pub const GREEN: &str = "#009E73";
pub const GREY: &str = "#8C8C8C";
pub const INK: &str = "#222222";

/// "Nice" tick values covering [lo, hi] (Heckbert 1990).
fn ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Scale {
    fn at(&self, v: f64) -> f64 {
        if self.d1 == self.d0 {
            return (self.r0 + self.r1) / 2.0;
        }
        self.r0 + (v - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
    }
}

fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if hi > lo {
        let p = (hi - lo) * 0.08;
        (lo - p, hi + p)
    } else {
        (lo - 1.0, hi + 1.0)
    }
}

/// Horizontal grid lines at the tick values across [x0, x1], each labelled left of x0.
fn y_grid(
    o: &mut String,
    y: &Scale,
    ticks: Vec<f64>,
    (x0, x1): (f64, f64),
    label: impl Fn(f64) -> String,
) {
    for tv in ticks {
        let yy = y.at(tv);
        let _ = write!(
            o,
            r##"<line x1="{x0}" y1="{yy:.1}" x2="{x1}" y2="{yy:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" text-anchor="end" fill="{INK}">{}</text>"##,
            x0 - 6.0,
            yy + 4.0,
            label(tv)
        );
    }
}

fn open(o: &mut String, w: f64, h: f64, label: &str, kind: &str) {
    let _ = write!(
        o,
        r#"<svg class="chart-svg" data-chart="{kind}" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{l}" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="12"><title>{l}</title>"#,
        l = esc(label)
    );
}

fn legend(o: &mut String, x: f64, y: f64, items: &[(&str, &str)]) {
    let mut cx = x;
    for (kind, label) in items {
        match *kind {
            "line" => {
                let _ = write!(
                    o,
                    r#"<line x1="{cx}" y1="{y}" x2="{}" y2="{y}" stroke="{BLUE}" stroke-width="2"/>"#,
                    cx + 18.0
                );
            }
            "band" => {
                let _ = write!(
                    o,
                    r#"<rect x="{cx}" y="{}" width="18" height="10" fill="{SKY}" fill-opacity="0.35"/>"#,
                    y - 5.0
                );
            }
            "dash" => {
                let _ = write!(
                    o,
                    r#"<line x1="{cx}" y1="{y}" x2="{}" y2="{y}" stroke="{GREY}" stroke-dasharray="4 3"/>"#,
                    cx + 18.0
                );
            }
            "signal" => {
                let _ = write!(
                    o,
                    r#"<circle cx="{}" cy="{y}" r="5" fill="{VERMILLION}"/>"#,
                    cx + 9.0
                );
            }
            "up" => {
                let _ = write!(
                    o,
                    r#"<circle cx="{}" cy="{y}" r="5" fill="{BLUE}"/>"#,
                    cx + 9.0
                );
            }
            "down" => {
                let _ = write!(
                    o,
                    r#"<circle cx="{}" cy="{y}" r="5" fill="{VERMILLION}"/>"#,
                    cx + 9.0
                );
            }
            "ns" => {
                let _ = write!(
                    o,
                    r#"<circle cx="{}" cy="{y}" r="5" fill="{GREY}"/>"#,
                    cx + 9.0
                );
            }
            "few" => {
                let _ = write!(
                    o,
                    r#"<circle cx="{}" cy="{y}" r="4.5" fill="white" stroke="{GREY}" stroke-width="1.5"/>"#,
                    cx + 9.0
                );
            }
            "promoter" | "good" => {
                let _ = write!(
                    o,
                    r#"<rect x="{cx}" y="{}" width="14" height="10" fill="{GREEN}"/>"#,
                    y - 5.0
                );
            }
            "passive" | "other" => {
                let _ = write!(
                    o,
                    r#"<rect x="{cx}" y="{}" width="14" height="10" fill="{GREY}"/>"#,
                    y - 5.0
                );
            }
            "detractor" => {
                let _ = write!(
                    o,
                    r#"<rect x="{cx}" y="{}" width="14" height="10" fill="{VERMILLION}"/>"#,
                    y - 5.0
                );
            }
            _ => {}
        }
        let _ = write!(
            o,
            r#"<text x="{}" y="{}" fill="{INK}">{}</text>"#,
            cx + 24.0,
            y + 4.0,
            esc(label)
        );
        cx += 34.0 + 6.5 * label.chars().count() as f64;
    }
}

/// Trend of one metric: value line, interval band, control limits, signals.
pub fn trend_chart(t: &Trend, title: &str, unit: &str, confidence: f64) -> String {
    let (w, h) = (720.0, 300.0);
    let (ml, mr, mt, mb) = (58.0, 16.0, 36.0, 58.0);
    let pts = &t.points;
    let mut o = String::new();
    open(
        &mut o,
        w,
        h,
        &format!(
            "{title}: trend by period with {:.0}% intervals and control limits",
            confidence * 100.0
        ),
        "trend",
    );
    if pts.is_empty() {
        o.push_str("</svg>");
        return o;
    }
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for p in pts {
        for v in [
            p.row.value,
            p.row.ci_low,
            p.row.ci_high,
            p.control_low,
            p.control_high,
        ]
        .into_iter()
        .flatten()
        {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    let (lo, hi) = padded(lo, hi);
    let x = Scale {
        d0: 0.0,
        d1: (pts.len().max(2) - 1) as f64,
        r0: ml + 10.0,
        r1: w - mr - 10.0,
    };
    let y = Scale {
        d0: lo,
        d1: hi,
        r0: h - mb,
        r1: mt,
    };
    y_grid(&mut o, &y, ticks(lo, hi, 5), (ml, w - mr), num);
    let _ = write!(
        o,
        r#"<text transform="translate(14 {}) rotate(-90)" text-anchor="middle" fill="{INK}">{}</text>"#,
        (mt + h - mb) / 2.0,
        esc(unit)
    );
    // Band.
    let mut band = String::new();
    for (i, p) in pts.iter().enumerate() {
        if let Some(v) = p.row.ci_high {
            let _ = write!(band, "{:.1},{:.1} ", x.at(i as f64), y.at(v));
        }
    }
    for (i, p) in pts.iter().enumerate().rev() {
        if let Some(v) = p.row.ci_low {
            let _ = write!(band, "{:.1},{:.1} ", x.at(i as f64), y.at(v));
        }
    }
    let _ = write!(
        o,
        r#"<polygon class="band" points="{}" fill="{SKY}" fill-opacity="0.35" stroke="none"/>"#,
        band.trim()
    );
    // Control limits.
    for sel in [
        |p: &cxray_insights::report::TrendPoint| p.control_low,
        |p: &cxray_insights::report::TrendPoint| p.control_high,
    ] {
        let line: Vec<String> = pts
            .iter()
            .enumerate()
            .filter_map(|(i, p)| sel(p).map(|v| format!("{:.1},{:.1}", x.at(i as f64), y.at(v))))
            .collect();
        if line.len() > 1 {
            let _ = write!(
                o,
                r#"<polyline points="{}" fill="none" stroke="{GREY}" stroke-dasharray="4 3"/>"#,
                line.join(" ")
            );
        }
    }
    // Line and points.
    let line: Vec<String> = pts
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            p.row
                .value
                .map(|v| format!("{:.1},{:.1}", x.at(i as f64), y.at(v)))
        })
        .collect();
    let _ = write!(
        o,
        r#"<polyline class="series" points="{}" fill="none" stroke="{BLUE}" stroke-width="2.2"/>"#,
        line.join(" ")
    );
    let every = (pts.len() / 12).max(1);
    for (i, p) in pts.iter().enumerate() {
        let xx = x.at(i as f64);
        if let Some(v) = p.row.value {
            let (r, fill) = if p.signal.is_some() {
                (5.5, VERMILLION)
            } else {
                (3.2, BLUE)
            };
            let _ = write!(
                o,
                r#"<circle cx="{xx:.1}" cy="{:.1}" r="{r}" fill="{fill}"><title>{}: {} (n = {})</title></circle>"#,
                y.at(v),
                esc(p.row.period.as_deref().unwrap_or("")),
                num(v),
                p.row.n
            );
        }
        if i % every == 0 || i == pts.len() - 1 {
            let _ = write!(
                o,
                r#"<text x="{xx:.1}" y="{}" text-anchor="end" transform="rotate(-35 {xx:.1} {})" fill="{INK}">{}</text>"#,
                h - mb + 16.0,
                h - mb + 16.0,
                esc(p.row.period.as_deref().unwrap_or(""))
            );
        }
    }
    let _ = write!(
        o,
        r#"<line x1="{ml}" y1="{}" x2="{}" y2="{}" stroke="{INK}"/>"#,
        h - mb,
        w - mr,
        h - mb
    );
    let band_label = format!("{:.0}% interval", confidence * 100.0);
    let mut items = vec![("line", "value"), ("band", band_label.as_str())];
    if pts.iter().any(|p| p.control_low.is_some()) {
        items.extend([("dash", "control limits"), ("signal", "outside limits")]);
    }
    legend(&mut o, ml, 16.0, &items);
    o.push_str("</svg>");
    o
}

/// Segments as dots with interval whiskers around the overall value.
pub fn segment_chart(s: &SegmentBreakdown, unit: &str) -> String {
    let rows = &s.rows;
    let w = 720.0;
    let (ml, mr, mt, mb) = (170.0, 24.0, 30.0, 64.0);
    let row_h = 26.0;
    let h = mt + mb + row_h * rows.len().max(1) as f64;
    let mut o = String::new();
    open(
        &mut o,
        w,
        h,
        &format!(
            "{} by {} ({}): value and interval per segment",
            s.metric,
            cxray_insights::report::dimension_label(&s.dimension),
            s.window
        ),
        "segments",
    );
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for r in rows {
        for v in [r.row.value, r.row.ci_low, r.row.ci_high]
            .into_iter()
            .flatten()
        {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if let Some(v) = s.overall.as_ref().and_then(|o| o.value) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        o.push_str("</svg>");
        return o;
    }
    let (lo, hi) = padded(lo, hi);
    let x = Scale {
        d0: lo,
        d1: hi,
        r0: ml,
        r1: w - mr,
    };
    for tv in ticks(lo, hi, 6) {
        let xx = x.at(tv);
        let _ = write!(
            o,
            r##"<line x1="{xx:.1}" y1="{mt}" x2="{xx:.1}" y2="{}" stroke="#e5e5e5"/><text x="{xx:.1}" y="{}" text-anchor="middle" fill="{INK}">{}</text>"##,
            h - mb,
            h - mb + 16.0,
            num(tv)
        );
    }
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" text-anchor="middle" fill="{INK}">{}</text>"#,
        (ml + w - mr) / 2.0,
        h - mb + 34.0,
        esc(unit)
    );
    if let Some(v) = s.overall.as_ref().and_then(|o| o.value) {
        let xx = x.at(v);
        let _ = write!(
            o,
            r#"<line x1="{xx:.1}" y1="{}" x2="{xx:.1}" y2="{}" stroke="{INK}" stroke-dasharray="3 3"/><text x="{xx:.1}" y="{}" text-anchor="middle" fill="{INK}">all {}</text>"#,
            mt - 4.0,
            h - mb,
            mt - 8.0,
            num(v)
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let yy = mt + row_h * (i as f64 + 0.5);
        let name = r
            .row
            .segment
            .get(&s.dimension)
            .cloned()
            .flatten()
            .unwrap_or_else(|| "(missing)".into());
        let name: String = name.chars().take(20).collect();
        let _ = write!(
            o,
            r#"<text x="{}" y="{:.1}" text-anchor="end" fill="{INK}">{} <tspan fill="{GREY}">n={}</tspan></text>"#,
            ml - 8.0,
            yy + 4.0,
            esc(&name),
            r.row.n
        );
        let color = match &r.vs_rest {
            Some(c) if c.significant && c.difference > 0.0 => BLUE,
            Some(c) if c.significant => VERMILLION,
            _ => GREY,
        };
        if let (Some(l), Some(hh)) = (r.row.ci_low, r.row.ci_high) {
            let _ = write!(
                o,
                r#"<line x1="{:.1}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="{color}" stroke-width="2"/>"#,
                x.at(l),
                x.at(hh)
            );
        }
        if let Some(v) = r.row.value {
            if r.too_few {
                let _ = write!(
                    o,
                    r#"<circle cx="{:.1}" cy="{yy:.1}" r="5" fill="white" stroke="{GREY}" stroke-width="1.5"><title>{}: too few answers</title></circle>"#,
                    x.at(v),
                    esc(&name)
                );
            } else {
                let _ = write!(
                    o,
                    r#"<circle cx="{:.1}" cy="{yy:.1}" r="5.5" fill="{color}"><title>{}: {}</title></circle>"#,
                    x.at(v),
                    esc(&name),
                    num(v)
                );
            }
        }
    }
    legend(
        &mut o,
        16.0,
        h - 10.0,
        &[
            ("up", "significantly higher"),
            ("down", "significantly lower"),
            ("ns", "not significant"),
            ("few", "too few answers"),
        ],
    );
    o.push_str("</svg>");
    o
}

/// Bars of the score distribution.
pub fn distribution_chart(d: &Distribution, title: &str) -> String {
    let (w, h) = (720.0, 240.0);
    let (ml, mr, mt, mb) = (58.0, 16.0, 34.0, 44.0);
    let mut o = String::new();
    open(
        &mut o,
        w,
        h,
        &format!("{title}: answers per score ({})", d.window),
        "distribution",
    );
    let max = d.bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let y = Scale {
        d0: 0.0,
        d1: max * 1.08,
        r0: h - mb,
        r1: mt,
    };
    y_grid(&mut o, &y, ticks(0.0, max * 1.08, 4), (ml, w - mr), |tv| {
        (tv as u64).to_string()
    });
    let n = d.bars.len().max(1) as f64;
    let slot = (w - ml - mr) / n;
    let total: u64 = d.bars.iter().map(|b| b.1).sum();
    for (i, (score, count, cat)) in d.bars.iter().enumerate() {
        let color = match cat.as_str() {
            "promoter" | "good" => GREEN,
            "detractor" => VERMILLION,
            _ => GREY,
        };
        let x0 = ml + slot * i as f64 + slot * 0.15;
        let yy = y.at(*count as f64);
        let _ = write!(
            o,
            r#"<rect x="{x0:.1}" y="{yy:.1}" width="{:.1}" height="{:.1}" fill="{color}"><title>score {}: {} answers ({:.1}%)</title></rect><text x="{:.1}" y="{}" text-anchor="middle" fill="{INK}">{}</text>"#,
            slot * 0.7,
            (h - mb - yy).max(0.0),
            num(*score),
            count,
            100.0 * *count as f64 / total.max(1) as f64,
            x0 + slot * 0.35,
            h - mb + 16.0,
            num(*score)
        );
    }
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" text-anchor="middle" fill="{INK}">score</text>"#,
        (ml + w - mr) / 2.0,
        h - 8.0
    );
    let _ = write!(
        o,
        r#"<text transform="translate(14 {}) rotate(-90)" text-anchor="middle" fill="{INK}">answers</text>"#,
        (mt + h - mb) / 2.0
    );
    let cats: Vec<&str> = {
        let mut c: Vec<&str> = d.bars.iter().map(|b| b.2.as_str()).collect();
        c.dedup();
        let mut u = Vec::new();
        for x in c {
            if !u.contains(&x) {
                u.push(x);
            }
        }
        u
    };
    let items: Vec<(&str, &str)> = cats.iter().map(|c| (*c, *c)).collect();
    legend(&mut o, ml, 14.0, &items);
    o.push_str("</svg>");
    o
}

/// Share of comments per theme over the window: bars with their interval, a tick at the share
/// in the window before; vermillion when the theme significantly lowers the first metric,
/// blue when it raises it.
pub fn theme_chart(s: &ThemesSection) -> String {
    let rows: Vec<_> = s.themes.iter().take(12).collect();
    let w = 720.0;
    let (ml, mr, mt, mb) = (170.0, 24.0, 14.0, 64.0);
    let row_h = 24.0;
    let h = mt + mb + row_h * rows.len().max(1) as f64;
    let mut o = String::new();
    open(
        &mut o,
        w,
        h,
        &format!("Share of comments per theme, {}", s.window),
        "themes",
    );
    let hi = rows
        .iter()
        .map(|t| t.share_high.max(t.share_before.unwrap_or(0.0)))
        .fold(0.0f64, f64::max)
        .max(0.05);
    let x = Scale {
        d0: 0.0,
        d1: 100.0 * hi * 1.05,
        r0: ml,
        r1: w - mr,
    };
    for tv in ticks(0.0, 100.0 * hi * 1.05, 6) {
        let xx = x.at(tv);
        let _ = write!(
            o,
            r##"<line x1="{xx:.1}" y1="{mt}" x2="{xx:.1}" y2="{}" stroke="#e5e5e5"/><text x="{xx:.1}" y="{}" text-anchor="middle" fill="{INK}">{}%</text>"##,
            h - mb,
            h - mb + 16.0,
            if tv.fract().abs() < 1e-9 {
                format!("{tv:.0}")
            } else {
                format!("{tv:.1}")
            }
        );
    }
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" text-anchor="middle" fill="{INK}">% of comments mentioning the theme</text>"#,
        (ml + w - mr) / 2.0,
        h - mb + 34.0
    );
    let first_metric = s.impacts.first().map(|i| i.metric.clone());
    for (i, t) in rows.iter().enumerate() {
        let yy = mt + row_h * i as f64;
        let impact = s
            .impacts
            .iter()
            .find(|x| x.theme == t.theme && Some(&x.metric) == first_metric.as_ref());
        let color = match impact {
            Some(x) if x.impact < 0.0 => VERMILLION,
            Some(_) => BLUE,
            None => GREY,
        };
        let name: String = t.theme.chars().take(20).collect();
        let _ = write!(
            o,
            r#"<text x="{}" y="{:.1}" text-anchor="end" fill="{INK}">{}{} <tspan fill="{GREY}">n={}</tspan></text>"#,
            ml - 8.0,
            yy + row_h / 2.0 + 4.0,
            esc(&name),
            if t.discovered { "*" } else { "" },
            t.mentions
        );
        let _ = write!(
            o,
            r#"<rect x="{ml}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}" fill-opacity="0.85"><title>{}: {:.1}% of comments ({} to {})</title></rect>"#,
            yy + 4.0,
            (x.at(100.0 * t.share) - ml).max(0.5),
            row_h - 8.0,
            esc(&t.theme),
            100.0 * t.share,
            num(100.0 * t.share_low),
            num(100.0 * t.share_high)
        );
        let _ = write!(
            o,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{INK}" stroke-width="1.2"/>"#,
            x.at(100.0 * t.share_low),
            yy + row_h / 2.0,
            x.at(100.0 * t.share_high),
            yy + row_h / 2.0
        );
        if let Some(b) = t.share_before {
            let xb = x.at(100.0 * b);
            let _ = write!(
                o,
                r#"<line x1="{xb:.1}" y1="{:.1}" x2="{xb:.1}" y2="{:.1}" stroke="{INK}" stroke-width="2.5"><title>{}: {:.1}% in {}</title></line>"#,
                yy + 2.0,
                yy + row_h - 2.0,
                esc(&t.theme),
                100.0 * b,
                esc(&s.before)
            );
        }
    }
    legend(
        &mut o,
        16.0,
        h - 10.0,
        &[
            ("down", "lowers the metric"),
            ("up", "raises it"),
            ("ns", "no significant effect"),
        ],
    );
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" text-anchor="end" fill="{GREY}">| = share in {}; * discovered</text>"#,
        w - mr,
        h - 6.0,
        esc(&s.before)
    );
    o.push_str("</svg>");
    o
}

/// Funnel of one period: a bar per step with the share of units that reached it, its interval
/// as a whisker, and the step conversion from the step before.
pub fn funnel_chart(rows: &[MetricRow]) -> String {
    let w = 720.0;
    let (ml, mr, mt, mb) = (120.0, 120.0, 14.0, 40.0);
    let row_h = 30.0;
    let h = mt + mb + row_h * rows.len().max(1) as f64;
    let mut o = String::new();
    open(
        &mut o,
        w,
        h,
        "Funnel: share of units starting the funnel that reached each step",
        "funnel",
    );
    let x = Scale {
        d0: 0.0,
        d1: 100.0,
        r0: ml,
        r1: w - mr,
    };
    for tv in ticks(0.0, 100.0, 5) {
        let xx = x.at(tv);
        let _ = write!(
            o,
            r##"<line x1="{xx:.1}" y1="{mt}" x2="{xx:.1}" y2="{}" stroke="#e5e5e5"/><text x="{xx:.1}" y="{}" text-anchor="middle" fill="{INK}">{}%</text>"##,
            h - mb,
            h - mb + 16.0,
            tv as u64
        );
    }
    let mut prev: Option<f64> = None;
    for (i, r) in rows.iter().enumerate() {
        let y0 = mt + row_h * i as f64;
        let step = r.segment.get("step").cloned().flatten().unwrap_or_default();
        let v = r.value.unwrap_or(0.0);
        let _ = write!(
            o,
            r#"<text x="{}" y="{:.1}" text-anchor="end" fill="{INK}">{}</text><rect x="{ml}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{BLUE}" fill-opacity="0.8"><title>{}: {:.1}% of {} units</title></rect>"#,
            ml - 8.0,
            y0 + row_h * 0.62,
            esc(&step),
            y0 + 5.0,
            (x.at(v) - ml).max(0.0),
            row_h - 10.0,
            esc(&step),
            v,
            r.n
        );
        if let (Some(l), Some(hh)) = (r.ci_low, r.ci_high) {
            let _ = write!(
                o,
                r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{INK}" stroke-width="1.5"/>"#,
                x.at(l),
                y0 + row_h / 2.0,
                x.at(hh),
                y0 + row_h / 2.0
            );
        }
        let conv = prev
            .filter(|p| *p > 0.0)
            .map(|p| format!("{:.0}% of previous", 100.0 * v / p))
            .unwrap_or_default();
        let label_at = r.ci_high.unwrap_or(v).max(v);
        let _ = write!(
            o,
            r#"<text x="{:.1}" y="{:.1}" fill="{INK}">{:.1}%</text><text x="{}" y="{:.1}" fill="{GREY}" font-size="11">{}</text>"#,
            x.at(label_at) + 6.0,
            y0 + row_h * 0.62,
            v,
            w - mr + 10.0,
            y0 + row_h * 0.62,
            esc(&conv)
        );
        prev = Some(v);
    }
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" text-anchor="middle" fill="{INK}">% of units starting the funnel</text>"#,
        (ml + w - mr) / 2.0,
        h - 6.0
    );
    o.push_str("</svg>");
    o
}

/// Retention curves (Kaplan-Meier steps) of up to six groups, latest cohorts first.
pub fn retention_chart(r: &Retention) -> String {
    retention_chart_from(r, "first start")
}

/// Retention curves with the time origin named (`first start`, `first answer`).
pub fn retention_chart_from(r: &Retention, origin: &str) -> String {
    let (w, h) = (720.0, 300.0);
    let (ml, mr, mt, mb) = (58.0, 16.0, 36.0, 44.0);
    let groups: Vec<_> = r.groups.iter().rev().take(6).collect();
    let max_days = groups
        .iter()
        .flat_map(|g| g.curve.last().map(|p| p.days))
        .fold(365.0f64, f64::max);
    let lo = groups
        .iter()
        .flat_map(|g| g.curve.iter().map(|p| p.retained))
        .fold(1.0f64, f64::min);
    let lo = (lo - 0.05).max(0.0);
    let mut o = String::new();
    open(
        &mut o,
        w,
        h,
        &format!("Retention: share of customers still active by days since their {origin}"),
        "retention",
    );
    let x = Scale {
        d0: 0.0,
        d1: max_days,
        r0: ml,
        r1: w - mr,
    };
    let y = Scale {
        d0: lo,
        d1: 1.0,
        r0: h - mb,
        r1: mt,
    };
    y_grid(&mut o, &y, ticks(lo, 1.0, 5), (ml, w - mr), |tv| {
        format!("{:.0}%", 100.0 * tv)
    });
    for tv in ticks(0.0, max_days, 6) {
        let xx = x.at(tv);
        let _ = write!(
            o,
            r#"<text x="{xx:.1}" y="{}" text-anchor="middle" fill="{INK}">{}</text>"#,
            h - mb + 16.0,
            tv as u64
        );
    }
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" text-anchor="middle" fill="{INK}">days since the {origin}</text>"#,
        (ml + w - mr) / 2.0,
        h - 6.0
    );
    let colors = [BLUE, VERMILLION, GREEN, SKY, GREY, INK];
    let mut items: Vec<(String, &str)> = Vec::new();
    for (g, color) in groups.iter().zip(colors) {
        let mut path = format!("M{:.1},{:.1}", x.at(0.0), y.at(1.0));
        let mut last = 1.0;
        for p in &g.curve {
            let _ = write!(path, " H{:.1} V{:.1}", x.at(p.days), y.at(p.retained));
            last = p.retained;
        }
        let end = g
            .horizons
            .iter()
            .filter(|h| h.retained.is_some())
            .map(|h| h.days)
            .fold(g.curve.last().map_or(0.0, |p| p.days), f64::max);
        let _ = write!(path, " H{:.1}", x.at(end.min(max_days)));
        let label = g.cohort.clone().unwrap_or_else(|| {
            g.segment
                .values()
                .map(|v| v.clone().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", ")
        });
        let _ = write!(
            o,
            r#"<path class="series" d="{path}" fill="none" stroke="{color}" stroke-width="2"><title>{}: {} customers, {:.1}% at the last step</title></path>"#,
            esc(&label),
            g.customers,
            100.0 * last
        );
        items.push((label, color));
    }
    let mut cx = ml;
    for (label, color) in &items {
        let _ = write!(
            o,
            r#"<line x1="{cx}" y1="16" x2="{}" y2="16" stroke="{color}" stroke-width="2"/><text x="{}" y="20" fill="{INK}">{}</text>"#,
            cx + 18.0,
            cx + 24.0,
            esc(label)
        );
        cx += 34.0 + 6.5 * label.chars().count() as f64;
    }
    o.push_str("</svg>");
    o
}

/// The priority matrix of key drivers: importance (share of explained variance, with its
/// bootstrap interval) against performance (mean rating in % of the scale); the dashed lines
/// are the average importance and the average performance.
pub fn priority_chart(d: &cxray_insights::drivers::Drivers) -> String {
    let (w, h) = (720.0, 340.0);
    let (ml, mr, mt, mb) = (58.0, 150.0, 20.0, 44.0);
    let mut o = String::new();
    open(
        &mut o,
        w,
        h,
        &format!(
            "Priority matrix of the drivers of {}: importance against performance",
            d.outcome
        ),
        "priority",
    );
    let k = d.drivers.len().max(1) as f64;
    let imp_hi = d
        .drivers
        .iter()
        .map(|r| r.ci_high)
        .fold(1.0 / k, f64::max)
        .min(1.0);
    let (p_lo, p_hi) = d
        .drivers
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), r| {
            (a.min(r.performance), b.max(r.performance))
        });
    let (p_lo, p_hi) = padded(p_lo.min(p_hi - 5.0), p_hi.max(p_lo + 5.0));
    let x = Scale {
        d0: p_lo,
        d1: p_hi,
        r0: ml,
        r1: w - mr,
    };
    let y = Scale {
        d0: 0.0,
        d1: imp_hi * 1.1,
        r0: h - mb,
        r1: mt,
    };
    y_grid(
        &mut o,
        &y,
        ticks(0.0, imp_hi * 1.1, 5),
        (ml, w - mr),
        |tv| format!("{:.0}%", 100.0 * tv),
    );
    for tv in ticks(p_lo, p_hi, 6) {
        let _ = write!(
            o,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" fill="{INK}">{tv:.0}%</text>"#,
            x.at(tv),
            h - mb + 16.0
        );
    }
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" text-anchor="middle" fill="{INK}">performance: mean rating, % of the scale</text><text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle" fill="{INK}">importance</text>"#,
        (ml + w - mr) / 2.0,
        h - 6.0,
        (mt + h - mb) / 2.0,
        (mt + h - mb) / 2.0
    );
    let mean_perf = d.drivers.iter().map(|r| r.performance).sum::<f64>() / k;
    let _ = write!(
        o,
        r#"<line x1="{ml}" y1="{y1:.1}" x2="{x2}" y2="{y1:.1}" stroke="{GREY}" stroke-dasharray="4 3"/><line x1="{xm:.1}" y1="{mt}" x2="{xm:.1}" y2="{yb}" stroke="{GREY}" stroke-dasharray="4 3"/>"#,
        y1 = y.at(1.0 / k),
        x2 = w - mr,
        xm = x.at(mean_perf),
        yb = h - mb
    );
    for r in &d.drivers {
        let color = match r.quadrant.as_str() {
            "fix first" => VERMILLION,
            "maintain" => BLUE,
            _ => GREY,
        };
        let (cx, cy) = (x.at(r.performance), y.at(r.importance));
        let _ = write!(
            o,
            r#"<line x1="{cx:.1}" y1="{:.1}" x2="{cx:.1}" y2="{:.1}" stroke="{color}" stroke-width="2"/><circle cx="{cx:.1}" cy="{cy:.1}" r="6" fill="{color}"><title>{}: importance {:.1}% ({:.1}–{:.1}%), performance {:.0}%, {}</title></circle><text x="{:.1}" y="{:.1}" fill="{INK}">{}</text>"#,
            y.at(r.ci_low),
            y.at(r.ci_high),
            esc(&r.driver),
            100.0 * r.importance,
            100.0 * r.ci_low,
            100.0 * r.ci_high,
            r.performance,
            esc(&r.quadrant),
            cx + 9.0,
            cy + 4.0,
            esc(&r.driver)
        );
    }
    let lx = w - mr + 16.0;
    for (i, (color, label)) in [
        (VERMILLION, "fix first"),
        (BLUE, "maintain"),
        (GREY, "monitor / other"),
    ]
    .iter()
    .enumerate()
    {
        let yy = mt + 14.0 + 20.0 * i as f64;
        let _ = write!(
            o,
            r#"<circle cx="{lx}" cy="{yy}" r="5" fill="{color}"/><text x="{}" y="{}" fill="{INK}">{label}</text>"#,
            lx + 10.0,
            yy + 4.0
        );
    }
    o.push_str("</svg>");
    o
}

/// Coverage of interval methods against sample size (a calibration study): one line per
/// method, x the sample size on a log scale, y the share of intervals holding the truth, with
/// the nominal level dashed and ±1.5 points of it shaded.
pub fn coverage_chart(title: &str, nominal: f64, series: &[(&str, Vec<(f64, f64)>)]) -> String {
    let (w, h) = (720.0, 300.0);
    let (ml, mr, mt, mb) = (58.0, 190.0, 30.0, 48.0);
    let mut o = String::new();
    open(
        &mut o,
        w,
        h,
        &format!(
            "{title}: coverage of the {:.0}% interval by sample size",
            nominal * 100.0
        ),
        "coverage",
    );
    let points = series.iter().flat_map(|(_, p)| p.iter());
    let (mut n0, mut n1, mut lo) = (f64::INFINITY, f64::NEG_INFINITY, nominal * 100.0 - 5.0);
    for &(n, c) in points {
        n0 = n0.min(n.log10());
        n1 = n1.max(n.log10());
        lo = lo.min(c * 100.0 - 1.0);
    }
    if !n0.is_finite() {
        o.push_str("</svg>");
        return o;
    }
    let lo = lo.floor().max(0.0);
    let x = Scale {
        d0: n0,
        d1: n1,
        r0: ml + 10.0,
        r1: w - mr - 10.0,
    };
    let y = Scale {
        d0: lo,
        d1: 100.0,
        r0: h - mb,
        r1: mt,
    };
    // The nominal level ±1.5 points, and the level itself.
    let (b0, b1) = (y.at(nominal * 100.0 + 1.5), y.at(nominal * 100.0 - 1.5));
    let _ = write!(
        o,
        r#"<rect x="{ml}" y="{b0:.1}" width="{}" height="{:.1}" fill="{SKY}" fill-opacity="0.25"/>"#,
        w - mr - ml,
        b1 - b0
    );
    let percent = |v: f64| match v.fract() == 0.0 {
        true => format!("{v:.0}%"),
        false => format!("{v:.1}%"),
    };
    y_grid(&mut o, &y, ticks(lo, 100.0, 5), (ml, w - mr), percent);
    let yn = y.at(nominal * 100.0);
    let _ = write!(
        o,
        r#"<line x1="{ml}" y1="{yn:.1}" x2="{}" y2="{yn:.1}" stroke="{GREY}" stroke-dasharray="4 3"/>"#,
        w - mr
    );
    for e in (n0.floor() as i32)..=(n1.ceil() as i32) {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powi(e);
            if v.log10() < n0 - 1e-9 || v.log10() > n1 + 1e-9 {
                continue;
            }
            let _ = write!(
                o,
                r#"<text x="{:.1}" y="{}" text-anchor="middle" fill="{INK}">{}</text>"#,
                x.at(v.log10()),
                h - mb + 16.0,
                v.round()
            );
        }
    }
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" text-anchor="middle" fill="{INK}">observations per sample (log scale)</text><text transform="translate(14 {}) rotate(-90)" text-anchor="middle" fill="{INK}">coverage</text>"#,
        (ml + w - mr) / 2.0,
        h - 10.0,
        (mt + h - mb) / 2.0
    );
    let colours = [BLUE, VERMILLION, GREEN, INK, GREY, SKY];
    for (i, (name, pts)) in series.iter().enumerate() {
        let colour = colours[i % colours.len()];
        let line: Vec<String> = pts
            .iter()
            .map(|&(n, c)| format!("{:.1},{:.1}", x.at(n.log10()), y.at(c * 100.0)))
            .collect();
        let _ = write!(
            o,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            line.join(" ")
        );
        for &(n, c) in pts {
            let _ = write!(
                o,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"><title>{}: n = {}, {:.1}%</title></circle>"#,
                x.at(n.log10()),
                y.at(c * 100.0),
                esc(name),
                n.round(),
                c * 100.0
            );
        }
        let ly = mt + 10.0 + 20.0 * i as f64;
        let lx = w - mr + 14.0;
        let _ = write!(
            o,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{}" fill="{INK}">{}</text>"#,
            lx + 18.0,
            lx + 24.0,
            ly + 4.0,
            esc(name)
        );
    }
    let ly = mt + 10.0 + 20.0 * series.len() as f64;
    let lx = w - mr + 14.0;
    let _ = write!(
        o,
        r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{GREY}" stroke-dasharray="4 3"/><text x="{}" y="{}" fill="{INK}">nominal ±1.5</text>"#,
        lx + 18.0,
        lx + 24.0,
        ly + 4.0
    );
    o.push_str("</svg>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks() {
        let eq = |a: Vec<f64>, b: &[f64]| {
            assert_eq!(a.len(), b.len(), "{a:?}");
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-9, "{a:?} vs {b:?}");
            }
        };
        eq(ticks(0.0, 10.0, 5), &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        eq(ticks(-23.0, 41.0, 5), &[-20.0, 0.0, 20.0, 40.0]);
        eq(ticks(3.1, 3.9, 4), &[3.2, 3.4, 3.6, 3.8]);
    }

    /// One polyline and one marker a point per method, the names escaped, no NaN coordinates.
    #[test]
    fn coverage_chart_draws_each_method() {
        let svg = coverage_chart(
            "NPS <mix>",
            0.95,
            &[
                ("score", vec![(10.0, 0.95), (100.0, 0.951), (1000.0, 0.949)]),
                ("wald", vec![(10.0, 0.898), (100.0, 0.94), (1000.0, 0.95)]),
            ],
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 6);
        assert!(svg.contains("NPS &lt;mix&gt;") && !svg.contains("NaN"));
        assert!(svg.contains(">89.8%</title>") || svg.contains("89.8%"));
    }
}
