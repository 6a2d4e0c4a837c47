//! Running the engine's plans for an analysis: an engine holding the tables it needs, and a
//! runtime of its own for the engine's async API (never the runtime that answers a server's
//! requests: plans are CPU-bound).

use std::future::Future;

use cxray_engine::{Engine, EngineError};
use cxray_ingest::{EntityTable, Loaded};

use crate::error::{Error, Result};
use crate::observe::phase;
use crate::project::Project;

/// Runs one engine plan to completion as a phase of the project's work.
pub(crate) fn run<T>(
    project: &Project,
    what: &str,
    plan: impl Future<Output = Result<T, EngineError>>,
) -> Result<T> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(project.threads())
        .enable_all()
        .build()
        .map_err(Error::runtime)?;
    Ok(phase(project.observer(), what, || rt.block_on(plan))?)
}

/// An engine with the answers registered as `responses`.
pub(crate) fn with_responses(project: &Project, loaded: &Loaded) -> Result<Engine> {
    let engine = Engine::new(project.threads());
    engine.register_responses(loaded.schema.clone(), loaded.batches.clone())?;
    Ok(engine)
}

/// An engine that scans the answers from Parquet files (a lake's parts) and `loaded`'s
/// batches (see [`Project::streamed_responses`]) as `responses`.
pub(crate) fn with_parquet_responses(
    project: &Project,
    loaded: &Loaded,
    parts: &[std::path::PathBuf],
) -> Result<Engine> {
    let engine = Engine::new(project.threads());
    engine.register_responses_parquet(loaded.schema.clone(), parts, loaded.batches.clone())?;
    Ok(engine)
}

/// The histograms of `query` over the lake's `parts` on the Ballista cluster at `url` (the
/// answers in `loaded`'s batches are not sent: the caller adds them). Connecting and running
/// happen in one runtime, which the client's connection needs.
pub(crate) fn on_cluster(
    project: &Project,
    url: &str,
    loaded: &Loaded,
    parts: &[std::path::PathBuf],
    query: &cxray_engine::HistogramQuery,
) -> Result<Vec<cxray_engine::GroupHistogram>> {
    #[cfg(feature = "cluster")]
    {
        let threads = project.threads();
        run(project, "computing metrics on the cluster", async move {
            let engine = Engine::ballista(url, threads).await?;
            engine.register_responses_parquet(loaded.schema.clone(), parts, vec![])?;
            engine.score_histograms(query).await
        })
        .map_err(|e| Error::runtime(format!("on the cluster at {url}: {}", e.message())))
    }
    #[cfg(not(feature = "cluster"))]
    {
        let _ = (project, loaded, parts, query);
        Err(Error::usage(format!(
            "the engine {url} is a Ballista cluster, and this cxray was built without one: \
             build it with `cargo build --release -p cxray-cli --features cxray-cli/cluster`"
        ))
        .about("engine"))
    }
}

/// An engine holding the given tables; `views` are the text columns that several aggregations
/// group by (the ticket metrics: three over the same keys), stored once as views. The other
/// families group each key once, and views of 50M journey events would cost 16 bytes a row.
pub(crate) fn with_tables(
    project: &Project,
    tables: &[(&str, &EntityTable)],
    views: &[String],
) -> Result<Engine> {
    let engine = Engine::new(project.threads());
    for (name, t) in tables {
        phase(project.observer(), &format!("register {name}"), || {
            engine.register_grouped_table(name, t.schema.clone(), t.batches.clone(), views)
        })?;
    }
    Ok(engine)
}
