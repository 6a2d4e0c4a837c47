//! `cxray demo`: writes the demo project and reports on it.

use cxray_demo::{DemoOptions, generate};

use crate::Failure;
use crate::args::{DemoArgs, InputArgs, PeriodArg, ReportArgs, ReportFormat};
use crate::input::thousands;
use crate::progress::spinner;

pub fn run(a: DemoArgs) -> Result<(), Failure> {
    let opts = DemoOptions {
        dir: a.dir.clone(),
        customers: a.customers,
        months: a.months,
        seed: a.seed,
        ..Default::default()
    };
    let pb = spinner(format!("writing the demo project to {}", a.dir.display()));
    let summary = generate(&opts).map_err(Failure::runtime);
    pb.finish_and_clear();
    let summary = summary?;
    eprintln!("demo project written to {}", a.dir.display());
    for (name, rows) in &summary.files {
        eprintln!("  data/{name}: {} rows", thousands(*rows));
    }
    if a.no_report {
        return Ok(());
    }
    let report_args = ReportArgs {
        input: InputArgs {
            config: Some(summary.config.clone()),
            ..Default::default()
        },
        by: vec![],
        period: PeriodArg::Month,
        since: None,
        until: None,
        confidence: 0.95,
        alpha: 0.05,
        min_n: None,
        format: ReportFormat::Html,
        output: None,
        title: None,
    };
    let mut project = crate::input::load(&report_args.input, None)?;
    project.enrich_text();
    project.join_touchpoints(&report_args.input)?;
    let doc = crate::report::build(&project, &report_args)?;
    let html_path = a.dir.join("report.html");
    let json_path = a.dir.join("report.json");
    crate::report::write_out(
        &crate::report::render(&doc, ReportFormat::Html).map_err(Failure::runtime)?,
        Some(&html_path),
    )?;
    crate::report::write_out(
        &crate::report::render(&doc, ReportFormat::Json).map_err(Failure::runtime)?,
        Some(&json_path),
    )?;
    print!(
        "{}",
        crate::report::render(&doc, ReportFormat::Text).map_err(Failure::runtime)?
    );
    println!("\nHTML report: {}", html_path.display());
    println!("JSON report: {}", json_path.display());
    Ok(())
}
