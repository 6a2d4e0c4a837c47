//! The same plans on a Ballista cluster (feature `cluster`). A Ballista session plans locally
//! and sends the physical plan to the cluster's scheduler, whose executors run it; what they
//! read must be reachable from every executor (a lake on shared storage), and every function
//! in a plan must be known to them by name. The plans use only built-in functions (the fast
//! `date_trunc` keeps the built-in's name, so executors run the built-in, which gives the same
//! periods), so nothing needs registering on the executors.

use ballista::prelude::SessionContextExt;
use ballista_core::serde::BallistaCodec;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

use crate::{Engine, EngineError};

impl Engine {
    /// An engine whose plans run on the Ballista cluster whose scheduler listens at `url`
    /// (`df://host:port`; port 50050 when none is given). Only tables of files can be
    /// registered ([`Engine::register_responses_parquet`] without answers in memory): a
    /// cluster cannot read this process's memory.
    pub async fn ballista(url: &str, partitions: usize) -> Result<Engine, EngineError> {
        let ctx = SessionContext::remote(url).await?;
        Ok(Engine::with_context(ctx, partitions))
    }
}

/// Starts a Ballista scheduler and `executors` executors (each running `slots` tasks at a
/// time) inside this process, listening on the loopback interface, and returns the
/// scheduler's URL for [`Engine::ballista`]. For tests, and for measuring what a cluster costs
/// on one machine.
pub async fn standalone_cluster(executors: usize, slots: usize) -> Result<String, EngineError> {
    let config = |e: ballista_core::error::BallistaError| {
        EngineError::DataFusion(DataFusionError::Configuration(e.to_string()))
    };
    let addr = ballista_scheduler::standalone::new_standalone_scheduler()
        .await
        .map_err(config)?;
    let scheduler_url = format!("http://localhost:{}", addr.port());
    let scheduler = {
        let mut tries = 0;
        loop {
            match SchedulerGrpcClient::connect(scheduler_url.clone()).await {
                Ok(s) => break s,
                Err(e) if tries >= 100 => {
                    return Err(EngineError::DataFusion(DataFusionError::Configuration(
                        format!("the in-process scheduler did not answer: {e}"),
                    )));
                }
                Err(_) => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    };
    for _ in 0..executors.max(1) {
        ballista_executor::new_standalone_executor(
            scheduler.clone(),
            slots.max(1),
            BallistaCodec::default(),
        )
        .await
        .map_err(config)?;
    }
    Ok(format!("df://localhost:{}", addr.port()))
}
