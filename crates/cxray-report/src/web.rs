//! HTML fragments of single analyses, for the team app's Explore page: the explanation of a
//! change (segments' mix and rate, themes) and the key drivers with the priority matrix. No
//! script, no inline style; every text escaped.

use std::fmt::Write;

use cxray_insights::drivers::Drivers;
use cxray_insights::explain::ChangeExplanation;
use cxray_insights::linkage::Linkage;
use cxray_insights::report::fmt_p;

use crate::esc;
use crate::svg::{priority_chart, retention_chart_from};

fn p_text(p: Option<f64>) -> String {
    p.map_or("—".into(), fmt_p)
}

fn opt(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.1}"))
}

/// Why a metric changed between two periods.
pub fn explain_html(e: &ChangeExplanation) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<section class="explain"><p class="summary {}">{}</p>"#,
        if e.significant { "sig" } else { "ns" },
        esc(&e.summary)
    );
    let _ = write!(
        o,
        r#"<p class="fine">{} {} (n = {}) → {} {} (n = {}): {:+.1} [{:.1}, {:.1}] at {:.0}% confidence, p = {}</p>"#,
        esc(&e.before_period),
        format_args!("{:.1}", e.value_before),
        e.n_before,
        esc(&e.after_period),
        format_args!("{:.1}", e.value_after),
        e.n_after,
        e.change,
        e.ci_low,
        e.ci_high,
        100.0 * e.confidence,
        p_text(Some(e.p_value))
    );
    if !e.explanations.is_empty() {
        o.push_str("<h3>What explains it</h3><ol>");
        for x in &e.explanations {
            let _ = write!(o, "<li>{}</li>", esc(&x.text));
        }
        o.push_str("</ol>");
    }
    for d in &e.dimensions {
        let _ = write!(
            o,
            r#"<h3>{}: mix {:+.1}, within segments {:+.1}</h3><div class="table-wrap"><table><thead><tr><th>segment</th><th class="num">n before</th><th class="num">n after</th><th class="num">before</th><th class="num">after</th><th class="num">mix</th><th class="num">within</th><th class="num">total</th><th class="num">q</th></tr></thead><tbody>"#,
            esc(&d.dimension),
            d.mix,
            d.rate
        );
        for s in d.segments.iter().take(12) {
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{:+.1}</td><td class="num">{:+.1}</td><td class="num">{:+.1}</td><td class="num">{}</td></tr>"#,
                esc(&s.segment),
                s.n_before,
                s.n_after,
                opt(s.value_before),
                opt(s.value_after),
                s.mix,
                s.rate,
                s.total,
                p_text(s.q_value)
            );
        }
        o.push_str("</tbody></table></div>");
    }
    if !e.themes.is_empty() {
        o.push_str(r#"<h3>Themes (contribution to the change)</h3><div class="table-wrap"><table><thead><tr><th>theme</th><th class="num">n before</th><th class="num">n after</th><th class="num">change</th><th class="num">q</th></tr></thead><tbody>"#);
        for t in e.themes.iter().take(12) {
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{:+.1}</td><td class="num">{}</td></tr>"#,
                esc(&t.theme),
                t.n_before,
                t.n_after,
                t.change,
                p_text(t.q_value)
            );
        }
        o.push_str("</tbody></table></div>");
    }
    o.push_str("</section>");
    o
}

/// Key drivers of an outcome: the priority matrix and the table with intervals.
pub fn drivers_html(d: &Drivers) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<section class="drivers"><p class="summary">{}</p><p class="fine">n = {}, R² = {:.2}; importance is each driver's share of the explained variance (Shapley/LMG) with {:.0}% bootstrap intervals ({} replicates).</p><figure class="chart"><div class="chart-scroll">{}</div><figcaption>Importance against performance: top left is what to fix first.</figcaption></figure>"#,
        esc(&d.verdict),
        d.n,
        d.r_squared,
        100.0 * d.confidence,
        d.replicates,
        priority_chart(d)
    );
    o.push_str(r#"<div class="table-wrap"><table><thead><tr><th class="num">#</th><th>driver</th><th class="num">importance</th><th class="num">interval</th><th class="num">coefficient</th><th class="num">mean</th><th class="num">performance</th><th>quadrant</th></tr></thead><tbody>"#);
    for r in &d.drivers {
        let _ = write!(
            o,
            r#"<tr><td class="num">{}</td><td>{}</td><td class="num">{:.1}%</td><td class="num">{:.1}–{:.1}%</td><td class="num">{:.2}</td><td class="num">{:.2}</td><td class="num">{:.0}%</td><td>{}</td></tr>"#,
            r.rank,
            esc(&r.driver),
            100.0 * r.importance,
            100.0 * r.ci_low,
            100.0 * r.ci_high,
            r.coefficient,
            r.mean,
            r.performance,
            esc(&r.quadrant)
        );
    }
    o.push_str("</tbody></table></div></section>");
    o
}

/// Retention and churn by NPS category: churn per 100 customer-months with exact Poisson
/// intervals, hazard ratios against promoters, the retention curves from the first answer.
pub fn linkage_html(l: &Linkage) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<section class="linkage"><p class="summary">{}</p><p class="fine">{} · {} · {} customers; data to {}.</p>"#,
        esc(&l.verdict),
        esc(&l.definition),
        esc(&l.design),
        l.customers,
        l.data_end
    );
    o.push_str(r#"<div class="table-wrap"><table><thead><tr><th>category</th><th class="num">customers</th><th class="num">churned</th><th class="num">churn / 100 customer-months</th><th class="num">interval</th></tr></thead><tbody>"#);
    for c in &l.categories {
        let _ = write!(
            o,
            r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{:.2}</td><td class="num">{:.2}–{:.2}</td></tr>"#,
            esc(&c.category),
            c.customers,
            c.churned,
            c.monthly_churn_pct,
            c.ci_low,
            c.ci_high
        );
    }
    o.push_str("</tbody></table></div>");
    if !l.hazard_ratios.is_empty() {
        o.push_str(r#"<div class="table-wrap"><table><thead><tr><th>category</th><th class="num">hazard ratio</th><th class="num">interval</th><th class="num">p</th></tr></thead><tbody>"#);
        for h in &l.hazard_ratios {
            let _ = write!(
                o,
                r#"<tr><td>{} vs {}</td><td class="num">{:.2}</td><td class="num">{:.2}–{:.2}</td><td class="num">{}</td></tr>"#,
                esc(&h.category),
                esc(&h.reference),
                h.hazard_ratio,
                h.ci_low,
                h.ci_high,
                p_text(Some(h.p_value))
            );
        }
        o.push_str("</tbody></table></div>");
    } else if let Some(n) = &l.model_note {
        let _ = write!(o, r#"<p class="ns">{}</p>"#, esc(n));
    }
    let _ = write!(
        o,
        r#"<figure class="chart"><div class="chart-scroll">{}</div><figcaption>Retention from the first answer, by NPS category (Kaplan-Meier).</figcaption></figure></section>"#,
        retention_chart_from(&l.retention, "first answer")
    );
    o
}
