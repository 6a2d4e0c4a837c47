//! The same plans on Ballista (feature `cluster`): a scheduler and two executors started in
//! this process on the loopback interface run the histogram plans over Parquet parts, and the
//! histograms equal those of the embedded engine.
#![cfg(feature = "cluster")]

mod common;
use common::{answers, queries, write_parquet};

use cxray_engine::{Engine, standalone_cluster};
use cxray_ingest::responses_schema;

#[test]
fn ballista_standalone_gives_the_histograms_of_the_embedded_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let schema = responses_schema(&["region".to_string(), "plan".to_string()]);
    let files = vec![tmp.path().join("a.parquet"), tmp.path().join("b.parquet")];
    write_parquet(
        &files[0],
        &[
            &answers(0, 3_000, &["region", "plan"]),
            &answers(3_000, 2_000, &["region", "plan"]),
        ],
    );
    write_parquet(&files[1], &[&answers(5_000, 2_500, &["region"])]);
    let queries = queries();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    // Bounded: a job the cluster never finishes fails the test instead of hanging it.
    let within = std::time::Duration::from_secs(120);
    rt.block_on(async {
        tokio::time::timeout(within, async {
            let url = standalone_cluster(2, 2).await.unwrap();
            assert!(url.starts_with("df://localhost:"), "{url}");
            let cluster = Engine::ballista(&url, 2).await.unwrap();
            cluster
                .register_responses_parquet(schema.clone(), &files, vec![])
                .unwrap();
            // The plan is the cluster's to run.
            let scan = cluster.context().table("responses").await.unwrap();
            let plan = scan.create_physical_plan().await.unwrap();
            let shown = datafusion::physical_plan::displayable(plan.as_ref())
                .indent(true)
                .to_string();
            assert!(shown.contains("DistributedQueryExec"), "{shown}");
            let embedded = Engine::new(2);
            embedded
                .register_responses_parquet(schema, &files, vec![])
                .unwrap();
            for q in &queries {
                let want = embedded.score_histograms(q).await.unwrap();
                let got = cluster.score_histograms(q).await.unwrap();
                assert!(want.len() > 1, "{q:?}");
                assert_eq!(got, want, "{q:?}");
            }
        })
        .await
    })
    .expect("the cluster answered within 120 s");
}
