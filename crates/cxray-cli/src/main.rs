//! `cxray`: customer-experience metrics with honest intervals, from survey exports and
//! operational data. This binary is a thin adapter: it parses flags ([`args`]), turns them into
//! the project layer's requests ([`request`]), calls `cxray_project` and prints the result
//! through `cxray_report::print`. It computes nothing itself.
//!
//! Exit codes: 0 ok, 1 runtime error, 2 bad input or usage, 3 an alert fired (`cxray alerts`).

mod args;
mod help;
mod observer;
mod request;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use cxray_project::{ErrorKind, Project, Remedy};
use cxray_report::print::{PrintFormat, Printable, print};

use crate::args::*;

/// An error with the exit code it maps to.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// A runtime failure (exit code 1).
    fn runtime(e: impl std::fmt::Display) -> Self {
        Failure {
            code: 1,
            message: e.to_string(),
        }
    }
}

/// The flag a request field comes from.
fn flag(field: &str) -> String {
    match field {
        "metrics" => "--metric".into(),
        "horizons" => "--at".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

impl From<cxray_project::Error> for Failure {
    fn from(e: cxray_project::Error) -> Self {
        let code = match e.kind() {
            ErrorKind::BadInput | ErrorKind::Usage | ErrorKind::NotFound => 2,
            ErrorKind::Runtime => 1,
        };
        let mut message = match e.field() {
            Some(f) => format!("{}: {}", flag(f), e.message()),
            None => e.message().to_string(),
        };
        if let Some(r) = e.remedy() {
            message.push_str(match r {
                Remedy::MapColumns => " (on the command line: --map CANONICAL=COLUMN)",
                Remedy::Delimiter => " (on the command line: --delimiter)",
                Remedy::Encoding => " (on the command line: --encoding, e.g. windows-1252)",
            });
        }
        Failure { code, message }
    }
}

type Outcome = Result<(), Failure>;

/// jemalloc instead of the system allocator: a report frees and allocates large tables many
/// times, and glibc hands such blocks back to the system, so each new one is faulted in and
/// zeroed page by page (17% of a 1M-customer report's samples) and the heap fragments; jemalloc
/// reuses them (peak 4.2-4.4 -> 3.4-3.5 GB on that report).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Alerts(a) => match alerts(a) {
            Ok(true) => return ExitCode::from(3),
            Ok(false) => Ok(()),
            Err(e) => Err(e),
        },
        Command::Metrics(a) => metrics(a),
        Command::Report(a) => report(a),
        Command::Ingest(a) => ingest(a),
        Command::Demo(a) => demo(a),
        Command::Text(a) => text(a),
        Command::Retention(a) => retention(a),
        Command::Customer(a) => customer(a),
        Command::Linkage(a) => linkage(a),
        Command::Explain(a) => explain(a),
        Command::Drivers(a) => drivers(a),
        Command::Nonresponse(a) => nonresponse(a),
        Command::Export(a) => export(a),
        Command::Serve(a) => serve(a),
        Command::Key(a) => key(a),
        Command::User(a) => user(a),
        Command::Backup(a) => backup(a),
        Command::Forget(a) => forget(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// Opens the project of the input flags; `attributes` limits the answers' segment columns kept
/// in memory to those the command needs.
fn open(a: &InputArgs, attributes: Option<Vec<String>>) -> Result<Project, Failure> {
    open_with(a, request::open_options(a, attributes))
}

/// Opens the project of the input flags with `options`.
fn open_with(a: &InputArgs, options: cxray_project::OpenOptions) -> Result<Project, Failure> {
    let project = Project::open(&request::source(a), options)?;
    Ok(project.observed_by(Arc::new(observer::Stderr::new(a.rejects.clone()))))
}

/// Writes rejected rows as CSV to `path`; the error says which file could not be written.
fn write_rejects(path: &Path, rejects: &[cxray_ingest::Reject]) -> Result<(), String> {
    std::fs::File::create(path)
        .and_then(|f| cxray_ingest::write_rejects_csv(std::io::BufWriter::new(f), rejects))
        .map_err(|e| format!("cannot write the rejects file {}: {e}", path.display()))
}

/// Runs `analysis` on the project, then writes the rejects of every source it read when
/// `--rejects` is given (also when the analysis failed after reading).
fn run<T>(
    project: &Project,
    a: &InputArgs,
    analysis: impl FnOnce(&Project) -> cxray_project::Result<T>,
) -> Result<T, Failure> {
    let out = analysis(project);
    if let Some(path) = &a.rejects
        && project.has_read()
    {
        match (write_rejects(path, &project.rejects()), &out) {
            (Ok(()), _) => {}
            // The analysis's own error says more than the rejects file's.
            (Err(e), Err(_)) => eprintln!("error: {e}"),
            (Err(e), Ok(_)) => return Err(Failure::runtime(e)),
        }
    }
    Ok(out?)
}

/// Writes finished output to a file or standard output.
fn emit(buf: &[u8], path: Option<&Path>) -> Outcome {
    match path {
        Some(p) => std::fs::write(p, buf)
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", p.display()))),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(buf)
                .and_then(|_| stdout.flush())
                .map_err(Failure::runtime)
        }
    }
}

fn emit_rows(x: &impl Printable, out: &RowsOut) -> Outcome {
    let format = match out.format {
        RowsFormat::Table => PrintFormat::Table,
        RowsFormat::Json => PrintFormat::Json,
        RowsFormat::Csv => PrintFormat::Csv,
    };
    emit(
        &print(x, format).map_err(Failure::runtime)?,
        out.output.as_deref(),
    )
}

fn emit_summary(x: &impl Printable, out: &SummaryOut) -> Outcome {
    let format = match out.format {
        SummaryFormat::Table => PrintFormat::Table,
        SummaryFormat::Json => PrintFormat::Json,
    };
    emit(
        &print(x, format).map_err(Failure::runtime)?,
        out.output.as_deref(),
    )
}

fn metrics(a: MetricsArgs) -> Outcome {
    let mut options = request::open_options(
        &a.input,
        Some(a.by.iter().map(|b| b.trim().to_string()).collect()),
    );
    // The answers outside --since/--until are not counted: a lake need not read their months.
    if a.since.is_some() || a.until.is_some() {
        options.answer_dates = Some((a.since, a.until));
    }
    let project = open_with(&a.input, options)?;
    if let Some(dialect) = a.show_sql {
        let sql = run(&project, &a.input, |p| p.metrics_sql(&(&a).into(), dialect))?;
        return emit(format!("{sql};\n").as_bytes(), a.out.output.as_deref());
    }
    let out = run(&project, &a.input, |p| p.metrics(&(&a).into()))?;
    emit_rows(&out, &a.out)
}

fn report(a: ReportArgs) -> Outcome {
    let project = open(&a.input, None)?;
    let doc = run(&project, &a.input, |p| p.report(&(&a).into()))?;
    warn(&doc);
    emit(render(&doc, a.format)?.as_bytes(), a.output.as_deref())
}

/// The sections a report could not compute, on standard error too (the report may go to a
/// file).
fn warn(doc: &cxray_report::ReportDocument) {
    for w in &doc.warnings {
        eprintln!("warning: not in the report: {}: {}", w.section, w.message);
    }
}

/// Renders a report document in a format.
fn render(doc: &cxray_report::ReportDocument, format: ReportFormat) -> Result<String, Failure> {
    Ok(match format {
        ReportFormat::Text => cxray_report::render_text(doc),
        ReportFormat::Md => cxray_report::render_markdown(doc),
        ReportFormat::Html => cxray_report::render_html(doc),
        ReportFormat::Json => {
            let mut s = serde_json::to_string_pretty(doc).map_err(Failure::runtime)?;
            s.push('\n');
            s
        }
    })
}

fn demo(a: DemoArgs) -> Outcome {
    let opts = cxray_demo::DemoOptions {
        dir: a.dir.clone(),
        customers: a.customers,
        months: a.months,
        seed: a.seed,
        ..Default::default()
    };
    let obs = observer::Stderr::new(None);
    let phase = format!("writing the demo project to {}", a.dir.display());
    cxray_project::Observer::started(&obs, &phase);
    let t0 = std::time::Instant::now();
    let summary = cxray_demo::generate(&opts);
    cxray_project::Observer::finished(&obs, &phase, t0.elapsed());
    let summary = summary.map_err(Failure::runtime)?;
    eprintln!("demo project written to {}", a.dir.display());
    for (name, rows) in &summary.files {
        eprintln!("  data/{name}: {} rows", cxray_project::thousands(*rows));
    }
    let collected = demo_store(&a.dir, &summary)?;
    eprintln!(
        "  cxray.db: {} responses of the checkout survey, as `cxray serve` collects them",
        cxray_project::thousands(collected)
    );
    if a.no_report {
        return Ok(());
    }
    let input = InputArgs {
        config: Some(summary.config.clone()),
        ..Default::default()
    };
    let project = open(&input, None)?;
    let doc = project.report(&cxray_project::ReportRequest::default())?;
    warn(&doc);
    let html_path = a.dir.join("report.html");
    let json_path = a.dir.join("report.json");
    emit(
        render(&doc, ReportFormat::Html)?.as_bytes(),
        Some(&html_path),
    )?;
    emit(
        render(&doc, ReportFormat::Json)?.as_bytes(),
        Some(&json_path),
    )?;
    print!("{}", render(&doc, ReportFormat::Text)?);
    println!("\nHTML report: {}", html_path.display());
    println!("JSON report: {}", json_path.display());
    Ok(())
}

/// What `cxray demo` adds to the demo's configuration: the store as a source, and the checkout
/// survey that `cxray serve` shows.
const DEMO_SERVE: &str = r#"
# What `cxray serve` collects (here the checkout survey of the last two weeks, written by
# `cxray demo`) is read like a file.
[[sources]]
path = "cxray.db"

[serve]
db = "cxray.db"

# The checkout survey as `cxray serve` shows it: /s/checkout/open (anonymous), or personal
# links from POST /api/v1/links.
[[surveys]]
id = "checkout"
languages = ["en", "nl", "de", "fr", "es", "hr", "zh"]
touchpoint = "checkout"
title = { en = "Your checkout", nl = "Uw bestelling", de = "Ihre Bestellung", fr = "Votre commande", es = "Su compra", hr = "Vaša kupnja", zh = "您的结账体验" }

[[surveys.questions]]
metric = "stars"
text = { en = "How would you rate our checkout?", nl = "Hoe beoordeelt u het afrekenen?", de = "Wie bewerten Sie den Bestellvorgang?", fr = "Comment évaluez-vous le paiement de votre commande ?", es = "¿Cómo valoraría el proceso de pago?", hr = "Kako biste ocijenili postupak plaćanja?", zh = "您如何评价我们的结账流程？" }

[[surveys.questions]]
reason_for = "stars"

[[surveys.questions]]
metric = "task"

# The relationship survey: NPS and its reason. A detractor (0-6), or a checkout rated one or
# two stars, opens a case in the team app at /app (`cxray user add NAME --role analyst`), due
# 48 hours later; [cases] changes which answers open one and how soon they are due.
[[surveys]]
id = "relationship"
languages = ["en", "nl", "de", "fr", "es", "hr", "zh"]
title = { en = "Your experience with us", nl = "Uw ervaring met ons", de = "Ihre Erfahrung mit uns", fr = "Votre expérience avec nous", es = "Su experiencia con nosotros", hr = "Vaše iskustvo s nama", zh = "您对我们的体验" }

[[surveys.questions]]
metric = "nps"

[[surveys.questions]]
reason_for = "nps"

# A purchase posted to /api/v1/events invites its customer to the checkout survey by email (to
# the event's `email` attribute; one click on a star answers): a third of customers, at most
# one invitation a month, never at night in the customer's time zone (the event's `timezone`).
# GET /api/v1/decisions says why each one was or was not invited; GET /api/v1/outbox how the
# emails fare.
[[triggers]]
on = "purchase"
survey = "checkout"
channel = "email"
share = 0.33
quiet_hours = [21, 8]

# The web widget on the order-confirmation page shows the same survey to half of the customers
# the site names (with a token signed by the key of GET /api/v1/widget; see docs/config.md):
# <script src="http://127.0.0.1:8080/w/widget.js" data-token="…"
#         data-touchpoint="order_confirmation" async></script>
[[triggers]]
on = "order_confirmation"
survey = "checkout"
channel = "widget"
share = 0.5

# Emails wait in the store's outbox until a mail server is set, e.g.:
# [serve.smtp]
# host = "smtp.example.com"
# from = "Acme Feedback <feedback@example.com>"
# username = "feedback@example.com"
# password_env = "CXRAY_SMTP_PASSWORD"

[contact]
any_survey_days = 30
"#;

/// Writes the demo's collected answers into `dir/cxray.db` (a new store) and adds the store to
/// the demo's configuration, so that `cxray report` and `cxray serve` there read it.
fn demo_store(dir: &Path, summary: &cxray_demo::DemoSummary) -> Result<u64, Failure> {
    use cxray_store::{NewAnswer, NewResponse, Record, Store};
    let db = dir.join("cxray.db");
    for suffix in ["", "-wal", "-shm"] {
        let f = PathBuf::from(format!("{}{suffix}", db.display()));
        if f.exists() {
            std::fs::remove_file(&f).map_err(Failure::runtime)?;
        }
    }
    let (survey, touchpoint, channel) = cxray_demo::COLLECTED_SURVEY;
    let records: Vec<Record> = summary
        .collected
        .iter()
        .map(|r| {
            Record::Response(NewResponse {
                response_id: r.response_id.clone(),
                survey: Some(survey.into()),
                customer_id: Some(r.customer_id.clone()),
                submitted_at: r.submitted_at.and_utc().timestamp_micros(),
                channel: Some(channel.into()),
                touchpoint: Some(touchpoint.into()),
                language: Some(r.language.into()),
                attributes: r
                    .attributes
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                answers: r
                    .answers
                    .iter()
                    .map(|(metric, score, comment)| NewAnswer {
                        metric: metric.to_string(),
                        score: Some(*score as f64),
                        comment: comment.clone(),
                    })
                    .collect(),
                ..Default::default()
            })
        })
        .collect();
    let n = records.len() as u64;
    let store = Store::open(&db).map_err(|e| Failure::runtime(e.to_string()))?;
    if !records.is_empty() {
        store
            .write_blocking(records)
            .map_err(|e| Failure::runtime(e.to_string()))?;
    }
    drop(store);
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(&summary.config)
        .map_err(Failure::runtime)?;
    config
        .write_all(DEMO_SERVE.as_bytes())
        .map_err(Failure::runtime)?;
    Ok(n)
}

fn text(a: TextArgs) -> Outcome {
    if let Some(TextCommand::Eval(e)) = &a.eval {
        let out = cxray_project::evaluate_texts(&e.file, &e.into())?;
        let format = match e.format {
            SummaryFormat::Table => PrintFormat::Table,
            SummaryFormat::Json => PrintFormat::Json,
        };
        emit(&print(&out, format).map_err(Failure::runtime)?, None)?;
        if e.format == SummaryFormat::Table {
            eprintln!(
                "{} texts in {:.2} s ({:.0} texts/s)",
                out.texts,
                out.seconds,
                out.texts as f64 / out.seconds.max(1e-9)
            );
        }
        return Ok(());
    }
    let Some(file) = &a.file else {
        return Err(Failure {
            code: 2,
            message: "cxray text needs a FILE (or the eval subcommand)".into(),
        });
    };
    let out = cxray_project::analyze_texts(file, &(&a).into())?;
    emit_rows(&out, &a.out)
}

fn retention(a: RetentionArgs) -> Outcome {
    let project = open(&a.input, None)?;
    let out = run(&project, &a.input, |p| p.retention(&(&a).into()))?;
    emit_rows(&out, &a.out)
}

fn customer(a: CustomerArgs) -> Outcome {
    let input = InputArgs {
        config: a.config.clone(),
        ..Default::default()
    };
    let project = open(&input, None)?;
    let out = project.customer(&a.id)?;
    emit_rows(&out, &a.out)
}

fn export(a: ExportArgs) -> Outcome {
    use cxray_store::StoreError;
    let failure = |e: StoreError| Failure {
        code: match e {
            StoreError::Read(_) => 1,
            _ => 2,
        },
        message: e.to_string(),
    };
    if !a.db.is_file() {
        return Err(Failure {
            code: 2,
            message: format!(
                "{}: no such store; give the file `cxray serve` writes with --db",
                a.db.display()
            ),
        });
    }
    let format = match a.format {
        ExportFormatArg::Csv => cxray_store::ExportFormat::Csv,
        ExportFormatArg::Parquet => cxray_store::ExportFormat::Parquet,
    };
    let files = cxray_store::Reader::open_file(&a.db)
        .and_then(|r| r.export(&a.out_dir, format))
        .map_err(failure)?;
    for f in files {
        eprintln!("{}: {} {}", f.path.display(), f.rows, f.rows_are);
        println!("{}", f.path.display());
    }
    Ok(())
}

fn forget(a: ForgetArgs) -> Outcome {
    if !a.db.is_file() {
        return Err(Failure {
            code: 2,
            message: format!("{}: no such store; give it with --db", a.db.display()),
        });
    }
    let e = cxray_store::forget_customer(&a.db, &a.customer).map_err(|e| Failure {
        code: 2,
        message: e.to_string(),
    })?;
    eprintln!(
        "erased {} responses ({} answers), {} journey events, {} invitations, {} trigger \
         decisions and {} invitation emails of the customer{}",
        e.responses,
        e.answers,
        e.events,
        e.invitations,
        e.decisions,
        e.outbox,
        if e.log_truncated {
            ""
        } else {
            "; the write-ahead log is in use (a server is running): its old pages are \
             overwritten as it is reused"
        }
    );
    Ok(())
}

fn backup(a: BackupArgs) -> Outcome {
    if !a.db.is_file() {
        return Err(Failure {
            code: 2,
            message: format!("{}: no such store; give it with --db", a.db.display()),
        });
    }
    let counts = cxray_store::backup(&a.db, &a.file).map_err(|e| Failure {
        code: 2,
        message: e.to_string(),
    })?;
    eprintln!(
        "{}: {} responses ({} answers), {} journey events",
        a.file.display(),
        counts.responses,
        counts.answers,
        counts.events
    );
    Ok(())
}

fn serve(a: ServeArgs) -> Outcome {
    let usage = |message: String| Failure { code: 2, message };
    let config = a.config.clone().or_else(|| {
        let p = PathBuf::from("cxray.toml");
        p.exists().then_some(p)
    });
    let project = match &config {
        Some(p) => Some((cxray_project::ProjectConfig::load(p)?, p.clone())),
        None => None,
    };
    let listen = a
        .listen
        .clone()
        .or_else(|| project.as_ref().and_then(|(p, _)| p.serve.listen.clone()))
        .unwrap_or_else(|| cxray_server::DEFAULT_LISTEN.to_string());
    let mut settings =
        cxray_server::ServerConfig::for_project(project, a.db.clone()).map_err(usage)?;
    settings.log = !a.quiet;
    let db = settings.db.clone();
    let state = cxray_server::AppState::open(settings).map_err(usage)?;
    cxray_server::run(state, &listen, |addr, state| {
        eprintln!(
            "cxray serve: listening on http://{addr} (store {}, {} active API keys; API at /api/openapi.json)",
            db.display(),
            state.keys.len()
        );
        if state.keys.is_empty() {
            eprintln!(
                "  no API key yet: make one with `cxray key add --db {} --name NAME --scope collect`",
                db.display()
            );
        }
    })
    .map_err(|message| Failure { code: 1, message })?;
    eprintln!(
        "cxray serve: stopped; every acknowledged write is in {}",
        db.display()
    );
    Ok(())
}

fn store_failure(e: cxray_store::StoreError) -> Failure {
    Failure {
        code: 2,
        message: e.to_string(),
    }
}

/// The settings connection of the store `db` (keys, members); made when `create`, else it
/// must exist.
fn settings(db: &std::path::Path, create: bool) -> Result<cxray_store::Keys, Failure> {
    if !create && !db.is_file() {
        return Err(Failure {
            code: 2,
            message: format!("{}: no such store; give it with --db", db.display()),
        });
    }
    cxray_store::Keys::open(db).map_err(store_failure)
}

fn user(a: UserArgs) -> Outcome {
    use cxray_store::Role;
    let failure = store_failure;
    let keys = settings(&a.db, matches!(a.action, UserAction::Add { .. }))?;
    match a.action {
        UserAction::Add {
            name,
            role,
            password_stdin,
            replace,
        } => {
            let role = Role::parse(&role).ok_or_else(|| Failure {
                code: 2,
                message: format!("--role {role:?}: use viewer, analyst or admin"),
            })?;
            let (password, made) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map_err(|e| Failure {
                    code: 2,
                    message: format!("reading the password from stdin: {e}"),
                })?;
                (line.trim_end_matches(['\r', '\n']).to_string(), false)
            } else {
                (cxray_store::new_password().map_err(failure)?, true)
            };
            let m = keys
                .add_member(&name, role, &password, replace)
                .map_err(failure)?;
            eprintln!(
                "member {} ({}) logs in at /app of `cxray serve`",
                m.name,
                m.role.name()
            );
            if made {
                eprintln!("their password, shown only now:");
                println!("{password}");
            }
        }
        UserAction::List => {
            let now = chrono::Utc::now().timestamp_micros();
            for m in keys.members().map_err(failure)? {
                let date = chrono::DateTime::from_timestamp_micros(m.created_at)
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                let locked = if m.locked_until.is_some_and(|t| t > now) {
                    "\tlocked out"
                } else {
                    ""
                };
                println!("{}\t{}\tsince {date}{locked}", m.name, m.role.name());
            }
        }
        UserAction::Remove { name } => {
            if !keys.remove_member(&name).map_err(failure)? {
                return Err(Failure {
                    code: 2,
                    message: format!(
                        "no member {name:?} in {}; `cxray user list` shows them",
                        a.db.display()
                    ),
                });
            }
            eprintln!("member {name} removed; their sessions ended");
        }
        UserAction::Unlock { name } => {
            if keys.member(&name).map_err(failure)?.is_none() {
                return Err(Failure {
                    code: 2,
                    message: format!("no member {name:?}; `cxray user list` shows them"),
                });
            }
            if keys.unlock_member(&name).map_err(failure)? {
                eprintln!("member {name} may log in again from everywhere");
            } else {
                eprintln!("member {name} was not locked out");
            }
        }
    }
    Ok(())
}

fn key(a: KeyArgs) -> Outcome {
    use cxray_store::Scope;
    let failure = store_failure;
    let keys = settings(&a.db, matches!(a.action, KeyAction::Add { .. }))?;
    match a.action {
        KeyAction::Add { name, scope } => {
            let scopes = scope
                .iter()
                .map(|s| {
                    Scope::parse(s).ok_or_else(|| Failure {
                        code: 2,
                        message: format!("--scope {s:?}: use collect, read or admin"),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let made = keys.add(&name, &scopes).map_err(failure)?;
            eprintln!(
                "key {} ({}) with scopes {}: store it now, it is not shown again",
                made.key.prefix,
                made.key.name,
                scope_names(&made.key.scopes)
            );
            println!("{}", made.secret);
        }
        KeyAction::List => {
            for k in keys.list().map_err(failure)? {
                let date = |us: i64| {
                    chrono::DateTime::from_timestamp_micros(us)
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_default()
                };
                println!(
                    "{}\t{}\t{}\tcreated {}{}",
                    k.prefix,
                    k.name,
                    scope_names(&k.scopes),
                    date(k.created_at),
                    k.revoked_at
                        .map(|r| format!("\trevoked {}", date(r)))
                        .unwrap_or_default()
                );
            }
        }
        KeyAction::Revoke { prefix } => {
            let prefix = cxray_store::key_prefix(&prefix)
                .unwrap_or(&prefix)
                .to_string();
            if !keys.revoke(&prefix).map_err(failure)? {
                return Err(Failure {
                    code: 2,
                    message: format!(
                        "no key {prefix} in {}; `cxray key list` shows them",
                        a.db.display()
                    ),
                });
            }
            eprintln!("key {prefix} revoked");
        }
    }
    Ok(())
}

fn scope_names(scopes: &[cxray_store::Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(",")
}

fn linkage(a: LinkageArgs) -> Outcome {
    let project = open(&a.input, Some(vec![]))?;
    let out = run(&project, &a.input, |p| p.linkage(&(&a).into()))?;
    emit_summary(&out, &a.out)
}

fn explain(a: ExplainArgs) -> Outcome {
    let project = open(&a.input, None)?;
    let out = run(&project, &a.input, |p| p.explain(&(&a).into()))?;
    emit_summary(&out, &a.out)
}

fn drivers(a: DriversArgs) -> Outcome {
    let segments = a
        .with_segments
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    let project = open(&a.input, Some(segments))?;
    let out = run(&project, &a.input, |p| p.drivers(&(&a).into()))?;
    emit_summary(&out, &a.out)
}

fn ingest(a: IngestArgs) -> Outcome {
    let out = cxray_project::ingest(
        &request::source(&a.input),
        request::open_options(&a.input, None),
        &observer::Stderr::new(None),
    )?;
    if let Some(path) = &a.input.rejects {
        write_rejects(path, &out.0.rejects).map_err(Failure::runtime)?;
    }
    emit_summary(&out, &a.out)
}

fn nonresponse(a: NonResponseArgs) -> Outcome {
    let project = open(&a.input, None)?;
    let out = run(&project, &a.input, |p| p.nonresponse(&(&a).into()))?;
    emit_summary(&out, &a.out)
}

/// Evaluates every rule; returns whether any fired.
fn alerts(a: AlertsArgs) -> Result<bool, Failure> {
    let project = open(&a.input, None)?;
    let out = run(&project, &a.input, |p| p.alerts(&(&a).into()))?;
    emit_summary(&out, &a.out)?;
    Ok(out.fired > 0)
}
