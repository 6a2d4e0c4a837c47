//! Contact-centre queue statistics per (segment, period offered): one aggregation of counts and
//! wait sums over the table `contacts`.

use cxray_metrics::queue::{QueueGroup, QueueSettings, QueueStats};
use datafusion::functions::core::expr_fn::coalesce;
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::logical_expr::{col, lit, when};

use crate::plan::{GroupQuery, Groups, column_f64, column_u64, indicator, seconds_between};
use crate::tickets::grouped;
use crate::{Engine, EngineError};

impl Engine {
    /// Queue statistics per (segment, period of `offered_at`). Needs the table `contacts`; its
    /// `abandoned` flag is complete (ingestion fills it from `answered_at` when missing).
    pub async fn queue_stats(
        &self,
        q: &GroupQuery,
        settings: &QueueSettings,
    ) -> Result<Vec<QueueGroup>, EngineError> {
        // `abandoned` is complete (never null), so the flag is used as it is; `IS TRUE` here
        // trips DataFusion 55's common-subexpression pass (nullability mismatch).
        let abandoned = col("abandoned");
        let answered = !col("abandoned");
        // The wait of an answered contact: its answer time when known, else wait_seconds.
        let wait = when(
            col("answered_at").is_not_null(),
            seconds_between("offered_at", "answered_at"),
        )
        .otherwise(col("wait_seconds"))
        .expect("a complete CASE");
        let answer_wait = when(answered.clone(), wait).end().expect("a CASE");
        let short = abandoned.clone().and(
            coalesce(vec![col("wait_seconds"), lit(f64::INFINITY)])
                .lt(lit(settings.short_abandon_seconds)),
        );
        let df = q.table(self.context(), "contacts").await?.aggregate(
            q.group(),
            vec![
                count(lit(1)).alias("offered"),
                sum(indicator(answered.clone())).alias("answered"),
                sum(indicator(abandoned)).alias("abandoned"),
                sum(indicator(short)).alias("short_abandoned"),
                count(answer_wait.clone()).alias("wait_n"),
                sum(answer_wait.clone()).alias("wait_sum"),
                sum(answer_wait.clone() * answer_wait.clone()).alias("wait_sum_sq"),
                sum(indicator(
                    answer_wait.lt_eq(lit(settings.service_level_seconds)),
                ))
                .alias("within"),
            ],
        )?;
        let mut groups: Groups<QueueStats> = Groups::new();
        for b in df.collect().await? {
            let rows = groups.rows(q, &b, None, QueueStats::default)?;
            let get = |n: &str| column_u64(&b, n);
            let (o, a, ab, sh, wn, w) = (
                get("offered")?,
                get("answered")?,
                get("abandoned")?,
                get("short_abandoned")?,
                get("wait_n")?,
                get("within")?,
            );
            let ws = column_f64(&b, "wait_sum")?;
            let ws2 = column_f64(&b, "wait_sum_sq")?;
            for (i, g) in rows.into_iter().enumerate() {
                groups.at(g).merge(&QueueStats {
                    offered: o[i],
                    answered: a[i],
                    abandoned: ab[i],
                    short_abandoned: sh[i],
                    wait_n: wn[i],
                    wait_sum: ws[i],
                    wait_sum_sq: ws2[i],
                    answered_within: w[i],
                });
            }
        }
        Ok(grouped(groups.into_map(), "queue"))
    }
}
