//! The "Why" section in every format: the headline change explained, key drivers with the
//! priority matrix, NPS linked to churn, and non-response bias. Only the analyses present are
//! rendered; each states its evidence.

use std::fmt::Write;

use cxray_insights::report::{InsightsSection, fmt_p};

use crate::esc;
use crate::svg::{priority_chart, retention_chart_from};
use crate::text::md_head;

/// The findings for the terminal summary.
pub fn text(o: &mut String, s: &InsightsSection, wrap: &dyn Fn(&str) -> String) {
    if s.findings.is_empty() {
        return;
    }
    let _ = writeln!(o, "\nWhy");
    for f in &s.findings {
        let _ = writeln!(o, "{}", wrap(&format!("- {}", f.text)));
    }
}

/// The section in Markdown.
pub fn markdown(o: &mut String, s: &InsightsSection) {
    let _ = writeln!(o, "<a id=\"insights\"></a>\n## Why\n");
    if s.findings.is_empty() {
        let _ = writeln!(o, "No analysis found a significant explanation.\n");
    }
    for f in &s.findings {
        let _ = writeln!(o, "- {} ([evidence](#{}))", f.text, f.section);
    }
    if let Some(c) = &s.change {
        let _ = writeln!(
            o,
            "\n<a id=\"insights-change\"></a>\n### What changed {} → {}\n\n{}\n",
            c.before_period, c.after_period, c.summary
        );
        md_head(
            o,
            &[
                "dimension",
                "segment",
                "before",
                "after",
                "mix",
                "rate",
                "q",
            ],
        );
        for d in &c.dimensions {
            for p in d.segments.iter().take(3) {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {:+.1} | {:+.1} | {} |",
                    d.dimension,
                    p.segment,
                    p.value_before.map_or("—".into(), |v| format!("{v:.1}")),
                    p.value_after.map_or("—".into(), |v| format!("{v:.1}")),
                    p.mix,
                    p.rate,
                    p.q_value.map_or("—".into(), fmt_p)
                );
            }
        }
    }
    if let Some(d) = &s.drivers {
        let _ = writeln!(
            o,
            "\n<a id=\"insights-drivers\"></a>\n### Key drivers of {}\n\n{}\n",
            d.outcome, d.verdict
        );
        md_head(
            o,
            &["#", "driver", "importance [interval]", "mean", "quadrant"],
        );
        for r in &d.drivers {
            let _ = writeln!(
                o,
                "| {} | {} | {:.1}% [{:.1}, {:.1}] | {:.2} | {} |",
                r.rank,
                r.driver,
                100.0 * r.importance,
                100.0 * r.ci_low,
                100.0 * r.ci_high,
                r.mean,
                r.quadrant
            );
        }
    }
    if let Some(l) = &s.linkage {
        let _ = writeln!(
            o,
            "\n<a id=\"insights-linkage\"></a>\n### NPS and churn\n\n{}\n",
            l.verdict
        );
        md_head(
            o,
            &[
                "category",
                "customers",
                "churned",
                "churn per month [interval]",
            ],
        );
        for c in &l.categories {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {:.2}% [{:.2}, {:.2}] |",
                c.category, c.customers, c.churned, c.monthly_churn_pct, c.ci_low, c.ci_high
            );
        }
    }
    if let Some(n) = &s.nonresponse {
        let _ = writeln!(
            o,
            "\n<a id=\"insights-nonresponse\"></a>\n### Who did not answer\n\n{}\n",
            n.verdict
        );
    }
    let _ = writeln!(o);
}

/// The section in HTML.
pub fn html(o: &mut String, s: &InsightsSection) {
    o.push_str(r#"<section id="insights"><h2>Why</h2>"#);
    if s.findings.is_empty() {
        o.push_str("<p>No analysis found a significant explanation.</p>");
    } else {
        o.push_str(r#"<ul class="highlights">"#);
        for f in &s.findings {
            let _ = write!(
                o,
                r##"<li>{} <a href="#{}">evidence</a></li>"##,
                esc(&f.text),
                esc(&f.section)
            );
        }
        o.push_str("</ul>");
    }
    if let Some(c) = &s.change {
        let _ = write!(
            o,
            r#"<h3 id="insights-change">What changed, {} → {}</h3><p>{}</p><div class="table-wrap"><table><thead><tr><th>dimension</th><th>segment</th><th class="num">n before → after</th><th class="num">before</th><th class="num">after</th><th class="num">mix</th><th class="num">rate</th><th class="num">q</th></tr></thead><tbody>"#,
            esc(&c.before_period),
            esc(&c.after_period),
            esc(&c.summary)
        );
        for d in &c.dimensions {
            for p in d.segments.iter().take(3) {
                let _ = write!(
                    o,
                    r#"<tr><td>{}</td><td>{}</td><td class="num">{} → {}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{:+.1}</td><td class="num">{:+.1}</td><td class="num">{}</td></tr>"#,
                    esc(&d.dimension),
                    esc(&p.segment),
                    p.n_before,
                    p.n_after,
                    p.value_before.map_or("—".into(), |v| format!("{v:.1}")),
                    p.value_after.map_or("—".into(), |v| format!("{v:.1}")),
                    p.mix,
                    p.rate,
                    p.q_value.map_or("—".into(), fmt_p)
                );
            }
        }
        o.push_str("</tbody></table></div><p class=\"ns\">Mix: the segment's share of answers changed; rate: the metric changed within the segment (Kitagawa decomposition; the parts of a dimension add up to the change). The three largest parts per dimension; q after Benjamini-Hochberg over all segments and themes.</p>");
        if let Some(f) = &c.focus {
            let _ = write!(
                o,
                r##"<p>The change is concentrated in {} {}: see <a href="#segments-{}-{}">its chart by {}</a>.</p>"##,
                esc(&f.dimension),
                esc(&f.segment),
                esc(&c.metric),
                esc(&f.dimension),
                esc(&f.dimension)
            );
        }
    }
    if let Some(d) = &s.drivers {
        let _ = write!(
            o,
            r#"<figure class="chart" id="insights-drivers"><h3>Key drivers of {}</h3><div class="chart-scroll">{}</div><figcaption>{} Importance: share of the explained variance (Shapley/LMG, R² {:.2}, n {}), with its {:.0}% bootstrap interval ({} replicates); dashed lines: average importance and performance.</figcaption></figure>"#,
            esc(&d.outcome),
            priority_chart(d),
            esc(&d.verdict),
            d.r_squared,
            d.n,
            100.0 * d.confidence,
            d.replicates
        );
    }
    if let Some(l) = &s.linkage {
        let _ = write!(
            o,
            r#"<figure class="chart" id="insights-linkage"><h3>NPS and churn</h3><div class="chart-scroll">{}</div><figcaption>{} Kaplan-Meier retention from each customer's first answer, by its category{}. Churn: {}. Hazard ratios: {}.</figcaption></figure><div class="table-wrap"><table><thead><tr><th>category</th><th class="num">customers</th><th class="num">churned</th><th class="num">customer-months</th><th class="num">churn per month [interval]</th></tr></thead><tbody>"#,
            retention_chart_from(&l.retention, "first answer"),
            esc(&l.verdict),
            l.retention
                .log_rank
                .as_ref()
                .map(|t| format!(" ({})", esc(&t.verdict)))
                .unwrap_or_default(),
            esc(&l.definition),
            esc(&l.design)
        );
        for c in &l.categories {
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{:.0}</td><td class="num">{:.2}% <span class="ns">[{:.2}, {:.2}]</span></td></tr>"#,
                esc(&c.category),
                c.customers,
                c.churned,
                c.customer_months,
                c.monthly_churn_pct,
                c.ci_low,
                c.ci_high
            );
        }
        o.push_str("</tbody></table></div>");
    }
    if let Some(n) = &s.nonresponse {
        let _ = write!(
            o,
            r#"<h3 id="insights-nonresponse">Who did not answer</h3><p>{}</p><div class="table-wrap"><table><thead><tr><th>dimension</th><th>segment</th><th class="num">invited</th><th class="num">response rate [interval]</th><th class="num">q</th></tr></thead><tbody>"#,
            esc(&n.verdict)
        );
        for d in &n.dimensions {
            for seg in &d.segments {
                let _ = write!(
                    o,
                    r#"<tr><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{:.1}% <span class="ns">[{:.1}, {:.1}]</span></td><td class="num">{}</td></tr>"#,
                    esc(&d.dimension),
                    esc(&seg.segment),
                    seg.invited,
                    seg.response_rate,
                    seg.ci_low,
                    seg.ci_high,
                    fmt_p(d.q_value)
                );
            }
        }
        o.push_str("</tbody></table></div>");
        if let Some(w) = &n.weighting {
            let _ = write!(
                o,
                r#"<div class="table-wrap"><table><thead><tr><th>metric</th><th class="num">n</th><th class="num">unweighted</th><th class="num">weighted</th><th class="num">bias</th><th class="num">design effect</th></tr></thead><tbody>"#
            );
            for m in &w.metrics {
                let _ = write!(
                    o,
                    r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{:.1}</td><td class="num">{:.1}</td><td class="num">{:+.1}</td><td class="num">{:.2}</td></tr>"#,
                    esc(&m.metric),
                    m.n,
                    m.unweighted,
                    m.weighted,
                    m.bias,
                    m.design_effect
                );
            }
            let _ = write!(
                o,
                r#"</tbody></table></div><p class="ns">Raked on {} to the {} margins; weights {:.2}–{:.2} × the mean.</p>"#,
                esc(&w.raked_on.join(", ")),
                esc(&w.margins_from),
                w.min_weight,
                w.max_weight
            );
        }
    }
    o.push_str("</section>");
}
