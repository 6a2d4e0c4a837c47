//! Every analysis of cxray from Rust, through the project layer, on a fresh demo project:
//!
//! ```sh
//! cargo run --release -p cxray-project --example project -- /tmp/cxray-example
//! ```
//!
//! The answers, tickets, lifecycle events and the rest are each read once, by the first
//! analysis that needs them, and shared by the others.

use cxray_metrics::period::Period;
use cxray_project::{
    AlertsRequest, DriversRequest, ExplainRequest, LinkageRequest, MetricsRequest,
    NonResponseRequest, OpenOptions, Project, ProjectSource, ReportRequest, RetentionRequest,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "cxray-example".into());
    let demo = cxray_demo::generate(&cxray_demo::DemoOptions {
        dir: dir.into(),
        customers: 2000,
        ..Default::default()
    })?;
    let project = Project::open(&ProjectSource::config(&demo.config), OpenOptions::default())?;

    // Metrics with intervals: survey and operational rows in one table.
    let metrics = project.metrics(&MetricsRequest {
        metrics: vec!["nps".into(), "csat".into(), "fcr".into(), "churn".into()],
        by: vec!["region".into()],
        period: Some(Period::Quarter),
        ..Default::default()
    })?;
    println!("{} metric rows, e.g.:", metrics.rows.len());
    for r in metrics.rows.iter().take(3) {
        println!(
            "  {} {} {:?}: {:.1} [{:.1}, {:.1}] n={}",
            r.metric,
            r.period.as_deref().unwrap_or(""),
            r.segment,
            r.value.unwrap_or(f64::NAN),
            r.ci_low.unwrap_or(f64::NAN),
            r.ci_high.unwrap_or(f64::NAN),
            r.n
        );
    }

    // Why the headline moved, what drives it, what churn it costs, who did not answer.
    let change = project.explain(&ExplainRequest::default())?;
    println!("\n{}", change.explanation.summary);
    let drivers = project.drivers(&DriversRequest::default())?;
    println!("{}", drivers.drivers.verdict);
    let linkage = project.linkage(&LinkageRequest::default())?;
    println!("{}", linkage.linkage.verdict);
    let nonresponse = project.nonresponse(&NonResponseRequest::default())?;
    println!("{}", nonresponse.nonresponse.verdict);
    let retention = project.retention(&RetentionRequest {
        by: vec!["plan".into()],
        ..Default::default()
    })?;
    if let Some(t) = &retention.retention.log_rank {
        println!("{}", t.verdict);
    }
    let alerts = project.alerts(&AlertsRequest::default())?;
    println!("{} alert(s) fired", alerts.fired);
    let customer = project.customer("C0000007")?;
    println!(
        "customer C0000007: {} interactions",
        customer.interactions.len()
    );

    // The whole report, as the CLI writes it; any section that could not be computed is in
    // `warnings` with its reason.
    let report = project.report(&ReportRequest::default())?;
    for w in &report.warnings {
        println!("not in the report: {}: {}", w.section, w.message);
    }
    let html = std::path::Path::new(&demo.config).with_file_name("example-report.html");
    std::fs::write(&html, cxray_report::render_html(&report))?;
    println!("\nreport: {}", html.display());
    Ok(())
}
