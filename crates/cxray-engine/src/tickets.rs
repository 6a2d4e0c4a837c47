//! Ticket statistics per (segment, period of creation): one aggregation for counts and
//! handle-time sums, and one per duration for its DDSketch buckets.

use std::collections::BTreeMap;

use cxray_metrics::operational::Grouped;
use cxray_metrics::tickets::{
    BUSINESS_FRT, BUSINESS_TTR, DURATION_ACCURACY, TicketFlow, TicketGroup, TicketSettings,
    TicketStats,
};
use cxray_stats::quantile::DdSketch;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::functions::core::expr_fn::coalesce;
use datafusion::functions::datetime::expr_fn::to_local_time;
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::logical_expr::{cast, col, lit, when};

use crate::plan::{
    GroupQuery, Groups, MICROS, SegmentPeriod, column_f64, column_i64, column_u64, dates,
    indicator, micros, period_bucket, period_of, seconds_between, sketch_bucket,
    split_period_bucket,
};
use crate::{Engine, EngineError, GroupKey, Period};

impl Engine {
    /// Ticket statistics per (segment, period of creation): counts for volume, FCR and reopen,
    /// handle-time sums, and DDSketch buckets of first response time and time to resolution
    /// (`ceil(ln(seconds) / ln γ)`, grouped and counted). Needs the table `tickets`.
    pub async fn ticket_stats(
        &self,
        q: &GroupQuery,
        settings: &TicketSettings,
    ) -> Result<Vec<TicketGroup>, EngineError> {
        let resolved = col("resolved_at").is_not_null();
        let window = settings.reopen_window_days as i64 * 86_400 * MICROS;
        let reopened_in_window = when(
            col("reopened_at").is_not_null(),
            (micros("reopened_at") - micros("resolved_at")).lt_eq(lit(window)),
        )
        .otherwise(coalesce(vec![col("reopened"), lit(false)]))
        .expect("a complete CASE");
        let one_touch = resolved
            .clone()
            .and(col("contacts").eq(lit(1i64)))
            .and(!reopened_in_window);
        let df = q.table(self.context(), "tickets").await?.aggregate(
            q.group(),
            vec![
                count(lit(1)).alias("n"),
                sum(indicator(resolved.clone())).alias("resolved"),
                sum(indicator(
                    resolved.clone().and(col("contacts").is_not_null()),
                ))
                .alias("fcr_eligible"),
                sum(indicator(one_touch)).alias("fcr"),
                sum(indicator(
                    resolved.clone().and(col("reopened").is_not_null()),
                ))
                .alias("reopen_eligible"),
                sum(indicator(resolved.and(col("reopened").is_true()))).alias("reopened"),
                count(col("handle_seconds")).alias("handle_n"),
                sum(col("handle_seconds")).alias("handle_sum"),
                sum(col("handle_seconds") * col("handle_seconds")).alias("handle_sum_sq"),
            ],
        )?;
        let mut groups: Groups<TicketStats> = Groups::new();
        for b in df.collect().await? {
            let rows = groups.rows(q, &b, None, TicketStats::default)?;
            let get = |n: &str| column_u64(&b, n);
            let (n, res, fe, f, re, r, hn) = (
                get("n")?,
                get("resolved")?,
                get("fcr_eligible")?,
                get("fcr")?,
                get("reopen_eligible")?,
                get("reopened")?,
                get("handle_n")?,
            );
            let hs = column_f64(&b, "handle_sum")?;
            let hs2 = column_f64(&b, "handle_sum_sq")?;
            for (i, g) in rows.into_iter().enumerate() {
                let s = groups.at(g);
                s.tickets += n[i];
                s.resolved += res[i];
                s.fcr_eligible += fe[i];
                s.fcr += f[i];
                s.reopen_eligible += re[i];
                s.reopened += r[i];
                s.handle_n += hn[i];
                s.handle_sum += hs[i];
                s.handle_sum_sq += hs2[i];
            }
        }
        let ln_gamma = DdSketch::ln_gamma_for(DURATION_ACCURACY);
        for (end, is_frt) in [("first_response_at", true), ("resolved_at", false)] {
            // Business time when business hours are set (columns added at ingestion).
            let secs = match (&settings.business_hours, is_frt) {
                (Some(_), true) => col(BUSINESS_FRT),
                (Some(_), false) => col(BUSINESS_TTR),
                (None, _) => seconds_between("created_at", end),
            };
            let segments = GroupQuery {
                period: None,
                ..q.clone()
            };
            let mut group = segments.group();
            let bucket = sketch_bucket(secs, ln_gamma);
            let period = q.period.map(|p| period_of(p, col("local_date")));
            group.push(period_bucket(period, bucket).alias("period_bucket"));
            let df = q
                .table(self.context(), "tickets")
                .await?
                .filter(col(end).is_not_null())?
                .aggregate(group, vec![count(lit(1)).alias("n")])?;
            for b in df.collect().await? {
                let (periods, buckets): (Vec<_>, Vec<_>) = column_i64(&b, "period_bucket")?
                    .into_iter()
                    .map(split_period_bucket)
                    .unzip();
                let rows = groups.rows(&segments, &b, Some(&periods), TicketStats::default)?;
                let n = column_u64(&b, "n")?;
                for (i, g) in rows.into_iter().enumerate() {
                    let s = groups.at(g);
                    let sketch = if is_frt { &mut s.frt } else { &mut s.ttr };
                    sketch.add_bucket(buckets[i], n[i]);
                }
            }
        }
        Ok(grouped(groups.into_map(), "tickets"))
    }
}

/// Groups keyed by (segment, period) as [`Grouped`] statistics of `metric`.
pub(crate) fn grouped<S>(groups: BTreeMap<SegmentPeriod, S>, metric: &str) -> Vec<Grouped<S>> {
    groups
        .into_iter()
        .map(|((segment, period_start), stats)| Grouped {
            key: GroupKey {
                metric: metric.into(),
                period_start,
                segment,
            },
            stats,
        })
        .collect()
}

impl Engine {
    /// Tickets per (segment, creation period, resolution period), the flow the backlog is
    /// computed from (`cxray_metrics::tickets::backlog`). Needs the table `tickets` and a
    /// period; a resolution's period is that of its local date in `timezone` (the project's,
    /// in which `local_date` is the creation's). Only `until` limits the tickets: a ticket
    /// created before `since` can still be open in the periods reported.
    pub async fn ticket_flows(
        &self,
        q: &GroupQuery,
        period: Period,
        timezone: &str,
    ) -> Result<Vec<TicketFlow>, EngineError> {
        let q = GroupQuery {
            since: None,
            period: Some(period),
            ..q.clone()
        };
        // The instant in the zone, its wall-clock time, its date: built-in functions only,
        // so that a cluster's executors know them.
        let zoned = cast(
            col("resolved_at"),
            DataType::Timestamp(TimeUnit::Microsecond, Some(timezone.into())),
        );
        let resolved_date = cast(to_local_time(vec![zoned]), DataType::Date32);
        let mut group = q.group();
        group.push(period_of(period, resolved_date).alias("resolved_period"));
        let df = q
            .table(self.context(), "tickets")
            .await?
            .aggregate(group, vec![count(lit(1)).alias("n")])?;
        let mut out = Vec::new();
        let mut groups: Groups<()> = Groups::new();
        for b in df.collect().await? {
            let rows = groups.rows(&q, &b, None, || ())?;
            let resolved = dates(&b, "resolved_period")?;
            let n = column_u64(&b, "n")?;
            for (i, g) in rows.into_iter().enumerate() {
                let (segment, created) = groups.key(g);
                let Some(created) = *created else { continue };
                out.push(TicketFlow {
                    segment: segment.clone(),
                    created,
                    resolved: resolved[i],
                    tickets: n[i],
                });
            }
        }
        Ok(out)
    }
}
