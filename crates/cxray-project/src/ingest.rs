//! `cxray ingest`: a project's sources validated once into its lake.

use std::path::PathBuf;

use cxray_ingest::LoadOptions;
use cxray_ingest::lake::IngestReport;
use cxray_metrics::MetricCatalog;

use crate::error::{Error, Result};
use crate::observe::{Observer, phase};
use crate::project::{OpenOptions, ProjectSource, resolve};

/// Where the lake goes, and whether the sources are checked strictly.
#[derive(Debug, Clone, Default)]
pub struct IngestRequest {
    /// The lake folder (default: the configuration's `[lake] path`).
    pub lake: Option<PathBuf>,
}

/// Validates every file source of `source` into the lake: files whose content is already
/// there are skipped, new ones appended, ids already in the lake rejected with their reason.
/// Data files given without a configuration are read as answers.
pub fn ingest(
    source: &ProjectSource,
    options: &OpenOptions,
    request: &IngestRequest,
    observer: &dyn Observer,
) -> Result<IngestOutput> {
    let without_lake = ProjectSource {
        lake: None,
        ..source.clone()
    };
    let (config, origin, _) = resolve(&without_lake, options)?;
    let cwd = std::env::current_dir().map_err(Error::runtime)?;
    let dir = match (&request.lake, &source.lake, &config.lake.path) {
        (Some(d), _, _) | (None, Some(d), _) => cwd.join(d),
        (None, None, Some(d)) => config.base_dir.join(d),
        (None, None, None) => {
            return Err(Error::usage(
                "where should the lake go? give --lake DIR, or set [lake] path in cxray.toml",
            ));
        }
    };
    config.validate(&origin)?;
    let catalog = MetricCatalog::builtin()
        .with_declarations(&config.metrics)
        .map_err(Error::bad_input)?;
    let mut sources = config.sources(&origin);
    sources.expand(&options.providers)?;
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let opts = LoadOptions {
        strict: options.strict,
        threads,
        attributes: None,
    };
    phase(observer, "ingest", || {
        cxray_ingest::lake::ingest(&sources, &catalog, &dir, &opts)
    })
    .map(IngestOutput)
    .map_err(Error::from)
}

/// What an ingest did (serialised as the report itself).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(transparent)]
pub struct IngestOutput(pub IngestReport);
