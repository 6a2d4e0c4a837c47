//! Running the engine's plans for an analysis: an engine holding the tables it needs, and a
//! runtime of its own for the engine's async API (never the runtime that answers a server's
//! requests: plans are CPU-bound).

use std::future::Future;

use cxray_engine::{Engine, EngineError};
use cxray_ingest::Loaded;

use crate::error::{Error, Result};
use crate::observe::phase;
use crate::project::{EntitySource, Project};

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
    on_cluster_with(
        project,
        url,
        "computing metrics",
        |engine| engine.register_responses_parquet(loaded.schema.clone(), parts, vec![]),
        |engine| async move { engine.score_histograms(query).await },
    )
}

/// An engine holding the given tables; `views` are the text columns that several aggregations
/// group by (the ticket metrics: three over the same keys), stored once as views for tables in
/// memory. The other families group each key once, and views of 50M journey events would cost
/// 16 bytes a row.
pub(crate) fn with_tables(
    project: &Project,
    tables: &[(&str, &EntitySource)],
    views: &[String],
) -> Result<Engine> {
    let engine = Engine::new(project.threads());
    for (name, source) in tables {
        phase(
            project.observer(),
            &format!("register {name}"),
            || match source {
                EntitySource::Memory(t) => {
                    engine.register_grouped_table(name, t.schema.clone(), t.batches.clone(), views)
                }
                EntitySource::Parts { table, parts } => engine.register_parquet(
                    name,
                    table.schema.clone(),
                    parts,
                    table.batches.clone(),
                ),
            },
        )?;
    }
    Ok(engine)
}

/// Runs `plan` over `tables` (see [`with_tables`]) as a phase of the project's work: on the
/// Ballista cluster of `[engine] url` when every table is only the lake's files (a cluster
/// cannot read this process's memory), else on an engine of its own.
pub(crate) fn run_plans<T, F, Fut>(
    project: &Project,
    what: &str,
    tables: &[(&str, &EntitySource)],
    views: &[String],
    plan: F,
) -> Result<T>
where
    F: FnOnce(Engine) -> Fut,
    Fut: Future<Output = Result<T, EngineError>>,
{
    if let Some(url) = project.engine_url() {
        let files_only = tables.iter().all(|(_, s)| match s {
            EntitySource::Parts { table, .. } => table.batches.is_empty(),
            EntitySource::Memory(_) => false,
        });
        if files_only {
            return on_cluster_tables(project, url, what, tables, plan);
        }
        project.observer().note(&format!(
            "{what}: some rows are in memory (read from the sources, the store's, or with what \
             cxray adds to them): computed here, not on the cluster"
        ));
    }
    let engine = with_tables(project, tables, views)?;
    run(project, what, plan(engine))
}

/// [`run_plans`] on the Ballista cluster at `url`, with the lake's parts of `tables`.
fn on_cluster_tables<T, F, Fut>(
    project: &Project,
    url: &str,
    what: &str,
    tables: &[(&str, &EntitySource)],
    plan: F,
) -> Result<T>
where
    F: FnOnce(Engine) -> Fut,
    Fut: Future<Output = Result<T, EngineError>>,
{
    let register = |engine: &Engine| {
        for (name, source) in tables {
            if let EntitySource::Parts { table, parts } = source {
                engine.register_parquet(name, table.schema.clone(), parts, vec![])?;
            }
        }
        Ok(())
    };
    on_cluster_with(project, url, what, register, plan)
}

/// Connects to the Ballista cluster at `url`, registers tables (`register`) and runs `plan`,
/// in one runtime, which the client's connection needs; errors name the cluster.
fn on_cluster_with<T, R, F, Fut>(
    project: &Project,
    url: &str,
    what: &str,
    register: R,
    plan: F,
) -> Result<T>
where
    R: FnOnce(&Engine) -> Result<(), EngineError>,
    F: FnOnce(Engine) -> Fut,
    Fut: Future<Output = Result<T, EngineError>>,
{
    #[cfg(feature = "cluster")]
    {
        let threads = project.threads();
        run(project, &format!("{what} on the cluster"), async move {
            let engine = Engine::ballista(url, threads).await?;
            register(&engine)?;
            plan(engine).await
        })
        .map_err(|e| Error::runtime(format!("on the cluster at {url}: {}", e.message())))
    }
    #[cfg(not(feature = "cluster"))]
    {
        let _ = (project, what, register, plan);
        Err(without_cluster(url))
    }
}

/// The error of a cluster asked of a cxray built without the `cluster` feature.
#[cfg(not(feature = "cluster"))]
fn without_cluster(url: &str) -> Error {
    Error::usage(format!(
        "the engine {url} is a Ballista cluster, and this cxray was built without one: build \
         it with `cargo build --release -p cxray-cli --features cxray-cli/cluster`"
    ))
    .about("engine")
}
