//! Every flag of the command line, defined once with its documentation (the help text is
//! generated from these doc comments). Values are parsed and checked here (dates, periods,
//! confidence levels, significance levels); [`crate::request`] turns the parsed flags into the
//! project layer's requests.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use cxray_metrics::IntervalChoice;
use cxray_metrics::period::Period;
use cxray_project::{PeriodLabel, SqlDialect};
use cxray_stats::Confidence;

/// Customer-experience analytics with honest statistics.
///
/// cxray reads survey exports and operational data and reports NPS, CSAT, CES, star ratings and
/// task completion with confidence intervals, by segment and period, with tests that tell real
/// changes from noise.
#[derive(Debug, Parser)]
#[command(name = "cxray", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Metrics with confidence intervals by segment and period, survey and operational.
    #[command(after_long_help = crate::help::metrics_list())]
    Metrics(MetricsArgs),
    /// The CX report: highlights, scorecard, trends, segments, distributions, data quality.
    Report(ReportArgs),
    /// Validates the project's sources once into a lake (Parquet by entity and month, with a
    /// manifest and the rejected rows) that every command then reads with --lake or
    /// `[lake] path`; files already ingested are skipped, new ones appended.
    Ingest(IngestArgs),
    /// Write a demo project with planted effects and report on it.
    Demo(DemoArgs),
    /// Language, sentiment and themes of a text column (`cxray text eval` measures accuracy).
    Text(TextArgs),
    /// Retention curves (Kaplan-Meier) by signup cohort and segment, with log-rank tests.
    Retention(RetentionArgs),
    /// Every interaction of one customer in time order, across all data.
    Customer(CustomerArgs),
    /// NPS linked to churn and revenue: churn rate and hazard ratio by NPS category.
    Linkage(LinkageArgs),
    /// Why a metric changed between two periods: segments (mix and rate) and themes.
    Explain(ExplainArgs),
    /// Response rates from invitations, whether respondents differ from the invited, and
    /// metrics weighted back to the population (raking).
    Nonresponse(NonResponseArgs),
    /// Evaluates the [[alerts]] rules of cxray.toml (exit code 3 when any fires) and lists
    /// unhappy customers to follow up with.
    Alerts(AlertsArgs),
    /// Key driver analysis: which attribute ratings drive an outcome, and what to fix first.
    Drivers(DriversArgs),
    /// Writes the answers and events collected in a store as CSV files that cxray, pandas
    /// and DuckDB read (`responses.csv` in the long layout, `journey.csv`).
    Export(ExportArgs),
    /// Collects answers and journey events over HTTP into the store (SQLite) and answers with
    /// the analyses of the project: the API is described at /api/openapi.json.
    Serve(ServeArgs),
    /// API keys of the store: `add` shows a new key once, `list`, `revoke`.
    Key(KeyArgs),
    /// Members of the team app (`cxray serve`, /app): `add` (a role: viewer, analyst or
    /// admin; the password from stdin, or a new one printed once), `list`, `remove`,
    /// `unlock`.
    User(UserArgs),
    /// Copies the store into a new file through SQLite's online backup, while it serves; the
    /// copy is a store (restore: serve it, or copy it back while no server runs).
    Backup(BackupArgs),
    /// Erases every row about a customer from the store (answers, events), overwriting the
    /// deleted content; the erasure is logged with counts, never the id.
    Forget(ForgetArgs),
}

/// Settings of `cxray serve`.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// The project configuration: its sources are analysed with the store, and its `[serve]`
    /// section sets the address, the store and the limits. Default: ./cxray.toml if present.
    #[arg(short = 'c', long)]
    pub config: Option<PathBuf>,

    /// The store (created if missing). Default: `[serve] db`, else cxray.db beside the
    /// configuration.
    #[arg(long)]
    pub db: Option<PathBuf>,

    /// Address to listen on. Default: `[serve] listen`, else 127.0.0.1:8080 (this machine
    /// only; give 0.0.0.0:8080 to accept other machines).
    #[arg(long)]
    pub listen: Option<String>,

    /// No log line per request.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `cxray key`.
#[derive(Debug, Args, Clone)]
pub struct KeyArgs {
    /// The store whose keys to manage.
    #[arg(long, default_value = "cxray.db", global = true)]
    pub db: PathBuf,

    #[command(subcommand)]
    pub action: KeyAction,
}

#[derive(Debug, Subcommand, Clone)]
pub enum KeyAction {
    /// Makes a key and prints it (only this once: the store keeps its hash).
    Add {
        /// What the key is for ("web widget", "CRM export").
        #[arg(long)]
        name: String,
        /// What it may do: collect (send answers and events), read (metrics, report),
        /// admin (keys). Several: --scope collect,read.
        #[arg(long, value_delimiter = ',', required = true)]
        scope: Vec<String>,
    },
    /// Lists the keys: prefix, name, scopes, dates (never the key).
    List,
    /// Revokes a key by its prefix (cxk_…); a running server refuses it within a second.
    Revoke {
        /// The key's prefix as `list` shows it (the whole key works too).
        prefix: String,
    },
}

/// `cxray user`.
#[derive(Debug, Args, Clone)]
pub struct UserArgs {
    /// The store whose team to manage.
    #[arg(long, default_value = "cxray.db", global = true)]
    pub db: PathBuf,

    #[command(subcommand)]
    pub action: UserAction,
}

#[derive(Debug, Subcommand, Clone)]
pub enum UserAction {
    /// Adds a member who logs in at /app. Without --password-stdin a password is made and
    /// printed once (the store keeps only its argon2id hash).
    Add {
        /// The name they log in with (letters, digits, . - _ @; an email works).
        name: String,
        /// viewer (sees the dashboard and the cases), analyst (also works the cases),
        /// admin (also manages the team).
        #[arg(long, value_parser = ["viewer", "analyst", "admin"])]
        role: String,
        /// Reads the password from the first line of standard input (at least 10 characters).
        #[arg(long)]
        password_stdin: bool,
        /// Changes an existing member's role and password (and ends their sessions).
        #[arg(long)]
        replace: bool,
    },
    /// Lists the members: name, role, since when, whether locked out.
    List,
    /// Removes a member and ends their sessions.
    Remove { name: String },
    /// Lifts a member's lockouts (after repeated wrong passwords from an address).
    Unlock { name: String },
}

/// Settings of `cxray export`.
#[derive(Debug, Args, Clone)]
pub struct ExportArgs {
    /// The store (the SQLite file `cxray serve` writes).
    #[arg(long, default_value = "cxray.db")]
    pub db: PathBuf,

    /// Folder to write the files into (created if needed; files of the same name are
    /// replaced).
    #[arg(short = 'o', long = "out-dir", default_value = "cxray-export")]
    pub out_dir: PathBuf,

    /// csv (cxray's long layout, RFC 3339 times) or parquet (typed columns: UTC timestamps,
    /// numeric scores; zstd).
    #[arg(short = 'f', long, value_enum, default_value = "csv")]
    pub format: ExportFormatArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormatArg {
    Csv,
    Parquet,
}

/// Settings of `cxray forget`.
#[derive(Debug, Args, Clone)]
pub struct ForgetArgs {
    /// The customer's id.
    pub customer: String,

    /// The store.
    #[arg(long, default_value = "cxray.db")]
    pub db: PathBuf,
}

/// Settings of `cxray backup`.
#[derive(Debug, Args, Clone)]
pub struct BackupArgs {
    /// The new file to write (never overwritten).
    pub file: PathBuf,

    /// The store to copy, also while `cxray serve` writes to it.
    #[arg(long, default_value = "cxray.db")]
    pub db: PathBuf,
}

/// A confidence level strictly between 0 and 1.
fn confidence(s: &str) -> Result<Confidence, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("expects a number such as 0.95, got {s:?}"))?;
    Confidence::new(v).map_err(|e| e.to_string())
}

/// A significance level or false discovery rate strictly between 0 and 1.
fn alpha(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("expects a number such as 0.05, got {s:?}"))?;
    if v > 0.0 && v < 1.0 {
        Ok(v)
    } else {
        Err(format!("must be strictly between 0 and 1, got {v}"))
    }
}

/// A day as YYYY-MM-DD.
fn date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("expects a date as YYYY-MM-DD, got {s:?}"))
}

/// A period label such as 2025-03.
fn period_label(s: &str) -> Result<PeriodLabel, String> {
    s.parse()
}

/// NAME=VALUE, split at the last `=`.
fn pair(s: &str) -> Result<(String, String), String> {
    s.rsplit_once('=')
        .filter(|(a, b)| !a.trim().is_empty() && !b.trim().is_empty())
        .map(|(a, b)| (a.trim().to_string(), b.to_string()))
        .ok_or_else(|| format!("expects NAME=VALUE, got {s:?}"))
}

/// An interval method.
fn interval(s: &str) -> Result<IntervalChoice, String> {
    IntervalChoice::parse(s).ok_or_else(|| {
        format!("unknown method {s:?}; use default, wald, score, adjusted-wald, exact or jeffreys")
    })
}

/// Days of 0 or more.
fn days(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("expects days of 0 or more, got {s:?}")),
    }
}

/// Where an analysis command writes: its summary table or JSON with every figure.
#[derive(Debug, Args, Clone)]
pub struct SummaryOut {
    /// Output format: a summary table, or JSON with every figure.
    #[arg(short, long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,

    /// Write the output to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Where a command with rows writes: a summary table, JSON or CSV.
#[derive(Debug, Args, Clone)]
pub struct RowsOut {
    /// Output format: a summary table, JSON with every figure, or CSV (one row per group).
    #[arg(short, long, value_enum, default_value_t = RowsFormat::Table)]
    pub format: RowsFormat,

    /// Write the output to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Settings of `cxray drivers`.
#[derive(Debug, Args, Clone)]
pub struct DriversArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// The outcome metric.
    #[arg(long, default_value = "nps")]
    pub outcome: String,

    /// Driver metrics, comma-separated (default: metrics declared with `driver = true`, else
    /// every other metric in the data).
    #[arg(long, value_delimiter = ',', value_name = "METRICS")]
    pub drivers: Vec<String>,

    /// Add the comment themes of the outcome's answers as 0/1 drivers (mentioned or not).
    #[arg(long)]
    pub with_themes: bool,

    /// Add segment columns as 0/1 drivers (one per level but the largest), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "COLS")]
    pub with_segments: Vec<String>,

    /// Bootstrap replicates for the importance intervals.
    #[arg(long, default_value_t = 200)]
    pub replicates: usize,

    /// Confidence level of the intervals.
    #[arg(long, default_value = "0.95", value_parser = confidence)]
    pub confidence: Confidence,

    #[command(flatten)]
    pub out: SummaryOut,
}

/// Settings of `cxray alerts`.
#[derive(Debug, Args, Clone)]
pub struct AlertsArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Evaluate this period (a label such as 2025-03) instead of the latest complete one.
    #[arg(long, value_name = "PERIOD", value_parser = period_label)]
    pub at: Option<PeriodLabel>,

    /// How many unhappy answers to list for follow-up.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub follow_up: usize,

    /// Confidence level of the intervals.
    #[arg(long, default_value = "0.95", value_parser = confidence)]
    pub confidence: Confidence,

    /// False discovery rate of the drop tests (Benjamini-Hochberg per rule).
    #[arg(long, default_value = "0.05", value_parser = alpha)]
    pub alpha: f64,

    #[command(flatten)]
    pub out: SummaryOut,
}

/// Settings of `cxray nonresponse`.
#[derive(Debug, Args, Clone)]
pub struct NonResponseArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Segment columns (of invitations or customers) to compare, comma-separated (default:
    /// the invitations' columns with 2 to 12 distinct values).
    #[arg(long, value_delimiter = ',', value_name = "COLS")]
    pub by: Vec<String>,

    /// Rake on these columns (default: those whose response rates differ significantly).
    #[arg(long, value_delimiter = ',', value_name = "COLS")]
    pub rake_on: Vec<String>,

    /// An answer belongs to the latest invitation sent at most this many days before it.
    #[arg(long, default_value_t = 30)]
    pub window_days: i64,

    /// Confidence level of the intervals.
    #[arg(long, default_value = "0.95", value_parser = confidence)]
    pub confidence: Confidence,

    /// False discovery rate of the tests (Benjamini-Hochberg).
    #[arg(long, default_value = "0.05", value_parser = alpha)]
    pub alpha: f64,

    #[command(flatten)]
    pub out: SummaryOut,
}

/// Settings of `cxray explain`.
#[derive(Debug, Args, Clone)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// The metric whose change is explained.
    #[arg(long, default_value = "nps")]
    pub metric: String,

    /// The earlier period, as a label: 2025-02 (month), 2025-Q1, 2025-W09, 2025, or a day
    /// (default: the period before --to).
    #[arg(long, value_name = "PERIOD", value_parser = period_label)]
    pub from: Option<PeriodLabel>,

    /// The later period (default: the latest period with data, or the one before it when the
    /// latest has less than half the usual answers, i.e. is still in progress).
    #[arg(long, value_name = "PERIOD", value_parser = period_label)]
    pub to: Option<PeriodLabel>,

    /// Period of the defaults when --from and --to are not given.
    #[arg(long, value_enum, default_value_t = PeriodArg::Month)]
    pub period: PeriodArg,

    /// Dimensions to split the change across, comma-separated (default: every attribute
    /// column with 2 to 12 distinct values).
    #[arg(long, value_delimiter = ',', value_name = "COLS")]
    pub by: Vec<String>,

    /// Leave comment themes out (skips the text analysis).
    #[arg(long)]
    pub no_themes: bool,

    /// Confidence level of the intervals.
    #[arg(long, default_value = "0.95", value_parser = confidence)]
    pub confidence: Confidence,

    /// False discovery rate of the segment and theme tests (Benjamini-Hochberg).
    #[arg(long, default_value = "0.05", value_parser = alpha)]
    pub alpha: f64,

    /// Segments with fewer answers in either period are not tested.
    #[arg(long, value_name = "N")]
    pub min_n: Option<u64>,

    #[command(flatten)]
    pub out: SummaryOut,
}

/// Settings of `cxray linkage`.
#[derive(Debug, Args, Clone)]
pub struct LinkageArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Confidence level of the intervals.
    #[arg(long, default_value = "0.95", value_parser = confidence)]
    pub confidence: Confidence,

    /// Significance level of the verdict.
    #[arg(long, default_value = "0.05", value_parser = alpha)]
    pub alpha: f64,

    #[command(flatten)]
    pub out: SummaryOut,
}

/// Settings of `cxray retention`.
#[derive(Debug, Args, Clone)]
pub struct RetentionArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Segment columns (of lifecycle or customers) to compare, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "COLS")]
    pub by: Vec<String>,

    /// Group customers by the period their first spell started (signup cohort).
    #[arg(long, value_enum)]
    pub cohort: Option<PeriodArg>,

    /// Horizons in days at which retention is reported.
    #[arg(long, value_delimiter = ',', value_name = "DAYS", value_parser = days,
          default_values = ["30", "90", "180", "365"])]
    pub at: Vec<f64>,

    /// Last day of data used (YYYY-MM-DD); default: the last event.
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub until: Option<NaiveDate>,

    /// Confidence level of the intervals.
    #[arg(long, default_value = "0.95", value_parser = confidence)]
    pub confidence: Confidence,

    /// Significance level of the log-rank verdict.
    #[arg(long, default_value = "0.05", value_parser = alpha)]
    pub alpha: f64,

    #[command(flatten)]
    pub out: RowsOut,
}

/// Settings of `cxray customer`.
#[derive(Debug, Args, Clone)]
pub struct CustomerArgs {
    /// The customer id.
    pub id: String,

    /// Project configuration (sources of every entity).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub out: RowsOut,
}

/// Settings of `cxray text`.
#[derive(Debug, Args, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TextArgs {
    #[command(subcommand)]
    pub eval: Option<TextCommand>,

    /// CSV or NDJSON file with a text column.
    pub file: Option<PathBuf>,

    /// The text column.
    #[arg(long, default_value = "comment")]
    pub column: String,

    /// Field delimiter (detected when omitted).
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,

    /// The file has no header row; columns are named 1, 2, 3, ...
    #[arg(long)]
    pub no_header: bool,

    #[command(flatten)]
    pub out: RowsOut,
}

#[derive(Debug, Subcommand, Clone)]
pub enum TextCommand {
    /// Accuracy and macro-F1 of the sentiment labels against labelled data, per language.
    Eval(TextEvalArgs),
}

/// Settings of `cxray text eval`.
#[derive(Debug, Args, Clone)]
pub struct TextEvalArgs {
    /// CSV (or tab-separated) file with texts and human labels.
    pub file: PathBuf,

    /// The text column (a name, or a 1-based number with --no-header).
    #[arg(long)]
    pub text: String,

    /// The label column: negative/neutral/positive, -1/0/1, 0/1 or a graded score.
    #[arg(long)]
    pub label: String,

    /// A column giving each text's language (default: detected).
    #[arg(long)]
    pub language: Option<String>,

    /// Only one half of the texts: `dev` (to choose rules on) or `other` (to report them on);
    /// the halves come from a fixed hash of each text, the same on every run.
    #[arg(long, value_parser = ["dev", "other"])]
    pub half: Option<String>,

    /// Field delimiter (detected when omitted).
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,

    /// The file has no header row; columns are numbered from 1.
    #[arg(long)]
    pub no_header: bool,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
}

/// Settings of `cxray report`.
#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Segment columns to analyse, comma-separated (default: every attribute column with 2 to
    /// 12 distinct values).
    #[arg(long, value_delimiter = ',', value_name = "COLS")]
    pub by: Vec<String>,

    /// Reporting period.
    #[arg(long, value_enum, default_value_t = PeriodArg::Month)]
    pub period: PeriodArg,

    /// First day included (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub since: Option<NaiveDate>,

    /// Last day included (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub until: Option<NaiveDate>,

    /// Confidence level of the intervals.
    #[arg(long, default_value = "0.95", value_parser = confidence)]
    pub confidence: Confidence,

    /// False discovery rate for verdicts and highlights (Benjamini-Hochberg).
    #[arg(long, default_value = "0.05", value_parser = alpha)]
    pub alpha: f64,

    /// Groups with fewer answers are shown but flagged "too few answers" and not tested.
    #[arg(long, value_name = "N")]
    pub min_n: Option<u64>,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Write the output to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Report title (default: the project name).
    #[arg(long)]
    pub title: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Md,
    Html,
}

/// Settings of `cxray demo`.
#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Folder to write the project into.
    #[arg(long, default_value = "cxray-demo")]
    pub dir: PathBuf,

    /// Number of customers.
    #[arg(long, default_value_t = 5000)]
    pub customers: u64,

    /// Months of data, ending 2025-12-31.
    #[arg(long, default_value_t = 24)]
    pub months: u32,

    /// Random seed; the same seed writes the same files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Only write the project; do not run the report.
    #[arg(long)]
    pub no_report: bool,
}

/// Where the data comes from and how to read it.
#[derive(Debug, Args, Clone, Default)]
pub struct InputArgs {
    /// Data files (CSV, NDJSON or Parquet). With --config, these replace the configured sources.
    pub files: Vec<PathBuf>,

    /// Project configuration (sources, column mappings, scales, timezone).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Map a canonical column to a file column, e.g. --map submitted_at=Date (repeatable).
    #[arg(long, value_name = "CANONICAL=COLUMN", value_parser = pair)]
    pub map: Vec<(String, String)>,

    /// A rated question column of a wide export and its metric, e.g. --question "Q1=nps"
    /// (repeatable; implies --layout wide).
    #[arg(long, value_name = "COLUMN=METRIC", value_parser = pair)]
    pub question: Vec<(String, String)>,

    /// Long (one row per answer) or wide (one row per respondent, one column per question).
    #[arg(long, value_enum)]
    pub layout: Option<LayoutArg>,

    /// Every row of the files is this metric (long files without a metric column).
    #[arg(long = "file-metric", value_name = "METRIC")]
    pub file_metric: Option<String>,

    /// Field delimiter (detected when omitted).
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,

    /// Text encoding when not UTF-8/UTF-16, e.g. windows-1252.
    #[arg(long)]
    pub encoding: Option<String>,

    /// chrono strftime format of timestamps, e.g. "%d/%m/%Y %H:%M" (ISO 8601 when omitted).
    #[arg(long, value_name = "FORMAT")]
    pub timestamp_format: Option<String>,

    /// IANA timezone of periods and of timestamps without an offset (default UTC).
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,

    /// Rows to skip after the header (e.g. 2 for a Qualtrics export).
    #[arg(long, value_name = "N")]
    pub skip_rows: Option<usize>,

    /// What to do with repeated response ids.
    #[arg(long, value_enum)]
    pub duplicates: Option<DuplicatesArg>,

    /// Column holding case weights (e.g. raking weights).
    #[arg(long, value_name = "COLUMN")]
    pub weight: Option<String>,

    /// Write every rejected row (file, line, column, value, reason) to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,

    /// Read the lake written by `cxray ingest` instead of the source files (default: `[lake]
    /// path` of cxray.toml); `cxray ingest` writes there.
    #[arg(long, value_name = "DIR")]
    pub lake: Option<PathBuf>,

    /// Run survey metrics streamed from the lake on the Ballista cluster of this scheduler
    /// (`df://host:port`; default: `[engine] url` of cxray.toml). Needs a cxray built with
    /// `--features cxray-cli/cluster`.
    #[arg(long, value_name = "URL")]
    pub engine: Option<String>,

    /// Fail (exit code 2) if any row is rejected.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LayoutArg {
    Long,
    Wide,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DuplicatesArg {
    /// Keep the first row of each response id and reject the others.
    KeepFirst,
    /// Stop with an error.
    Fail,
}

/// Settings of `cxray ingest`.
#[derive(Debug, Args, Clone)]
pub struct IngestArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub out: SummaryOut,
}

/// What to compute and how to present it.
#[derive(Debug, Args, Clone)]
pub struct MetricsArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Metrics to report, comma-separated (survey or operational: the list is at the end of
    /// --help); every survey metric in the data when omitted.
    #[arg(short, long, value_delimiter = ',', value_name = "LIST")]
    pub metric: Vec<String>,

    /// Segment columns to break metrics down by, comma-separated (`theme`: each theme of the
    /// comments).
    #[arg(long, value_delimiter = ',', value_name = "COLS")]
    pub by: Vec<String>,

    /// Group by calendar period.
    #[arg(long, value_enum)]
    pub period: Option<PeriodArg>,

    /// First day included (YYYY-MM-DD, in the project timezone).
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub since: Option<NaiveDate>,

    /// Last day included (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub until: Option<NaiveDate>,

    /// Confidence level of the intervals.
    #[arg(long, default_value = "0.95", value_parser = confidence)]
    pub confidence: Confidence,

    /// Interval method: default (score for NPS, Wilson for proportions, t for means), wald,
    /// score, adjusted-wald, exact (Clopper-Pearson) or jeffreys.
    #[arg(long, default_value = "default", value_name = "METHOD", value_parser = interval)]
    pub interval: IntervalChoice,

    /// Groups with fewer answers are flagged as too few (default: project setting, 30).
    #[arg(long, value_name = "N")]
    pub min_n: Option<u64>,

    /// Print, instead of the metrics, the SQL of the survey metrics' sufficient statistics
    /// (score histograms) over a table `responses`, for a warehouse to run on the same answers:
    /// --show-sql, or --show-sql=DIALECT: generic, duckdb, postgres or snowflake.
    #[arg(long, value_name = "DIALECT", num_args = 0..=1, default_missing_value = "generic",
          require_equals = true, value_parser = dialect)]
    pub show_sql: Option<SqlDialect>,

    #[command(flatten)]
    pub out: RowsOut,
}

fn dialect(s: &str) -> Result<SqlDialect, String> {
    SqlDialect::parse(s).ok_or_else(|| {
        let names: Vec<&str> = SqlDialect::ALL.iter().map(|(n, _)| *n).collect();
        format!("unknown SQL dialect {s:?}; use {}", names.join(", "))
    })
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PeriodArg {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl From<PeriodArg> for Period {
    fn from(p: PeriodArg) -> Period {
        match p {
            PeriodArg::Day => Period::Day,
            PeriodArg::Week => Period::Week,
            PeriodArg::Month => Period::Month,
            PeriodArg::Quarter => Period::Quarter,
            PeriodArg::Year => Period::Year,
        }
    }
}

/// Formats of the analyses that have no rows of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SummaryFormat {
    Table,
    Json,
}

/// Formats of the results with one row per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RowsFormat {
    Table,
    Json,
    Csv,
}
