//! `cxray ingest`: a project's sources validated once into its lake.

use cxray_ingest::LoadOptions;
use cxray_ingest::lake::IngestReport;

use crate::error::{Error, Result};
use crate::observe::{Observer, phase};
use crate::project::{OpenOptions, Project, ProjectSource, resolve};

/// Validates every file source of `source` into its lake (`source.lake`, else the
/// configuration's `[lake] path`): files whose content is already there are skipped, new ones
/// appended, ids already in the lake rejected with their reason. Data files given without a
/// configuration are read as answers; cxray's store is left to be read live.
pub fn ingest(
    source: &ProjectSource,
    options: OpenOptions,
    observer: &dyn Observer,
) -> Result<IngestOutput> {
    // Here the lake is where to write, not what to read.
    let without_lake = ProjectSource {
        lake: None,
        ..source.clone()
    };
    let (config, origin, _) = resolve(&without_lake, &options)?;
    let dir = match (&source.lake, &config.lake.path) {
        (Some(d), _) => std::env::current_dir().map_err(Error::runtime)?.join(d),
        (None, Some(d)) => config.base_dir.join(d),
        (None, None) => {
            return Err(Error::usage(
                "where should the lake go? give --lake DIR, or set [lake] path in cxray.toml",
            ));
        }
    };
    let project = Project::with_config(config, &origin, !source.files.is_empty(), options)?;
    let opts = LoadOptions {
        attributes: None,
        ..project.load_options()
    };
    phase(observer, "ingest", || {
        cxray_ingest::lake::ingest(project.sources(), project.catalog(), &dir, &opts)
    })
    .map(IngestOutput)
    .map_err(Error::from)
}

/// What an ingest did (serialised as the report itself).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(transparent)]
pub struct IngestOutput(pub IngestReport);
