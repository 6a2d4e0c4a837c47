//! Journey statistics: one pass groups events by unit (session, else customer) into the first
//! time of each funnel step — a pivot of conditional minima — and the unit table is then
//! aggregated per (segment, period of the unit's first event): units reaching each step, the
//! DDSketch buckets of the time between steps, carts and carts purchased within the window.

use std::collections::BTreeMap;

use cxray_metrics::journey::{
    CART_STEPS, CartStats, JourneyGroups, JourneySettings, PURCHASE_STEPS, StepStats,
};
use cxray_metrics::operational::Grouped;
use cxray_metrics::tickets::DURATION_ACCURACY;
use cxray_stats::quantile::DdSketch;
use datafusion::arrow::datatypes::DataType;
use datafusion::functions::core::expr_fn::coalesce;
use datafusion::functions_aggregate::expr_fn::{count, min, sum};
use datafusion::logical_expr::{Expr, cast, col, lit, when};

use crate::plan::{
    GroupQuery, Groups, MICROS, SegmentPeriod, column_i64, column_u64, indicator, period_bucket,
    period_of, sketch_bucket, split_period_bucket,
};
use crate::{Engine, EngineError, GroupKey, as_utf8};

/// The journey events in the date range and, when some `--by` columns are not journey columns,
/// the customers' values of those columns (table `customers`) keyed `segment_customer_id`, with
/// the names of the columns taken from there.
type JourneySources = (
    datafusion::prelude::DataFrame,
    Option<datafusion::prelude::DataFrame>,
    Vec<String>,
);

async fn journey_sources(
    ctx: &datafusion::prelude::SessionContext,
    q: &GroupQuery,
) -> Result<JourneySources, EngineError> {
    let journey = ctx.table("journey").await?;
    let has = |df: &datafusion::prelude::DataFrame, b: &str| {
        df.schema().field_with_unqualified_name(b).is_ok()
    };
    let missing: Vec<String> = q.by.iter().filter(|b| !has(&journey, b)).cloned().collect();
    let events = GroupQuery {
        by: q.by.iter().filter(|b| has(&journey, b)).cloned().collect(),
        ..q.clone()
    }
    .table(ctx, "journey")
    .await?;
    if missing.is_empty() {
        return Ok((events, None, missing));
    }
    let names = |df: &datafusion::prelude::DataFrame| -> Vec<String> {
        df.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| !matches!(n.as_str(), "source_line" | "source_file" | "local_date"))
            .collect()
    };
    let customers = match ctx.table("customers").await {
        Ok(c) if missing.iter().all(|b| has(&c, b)) => c,
        other => {
            let mut available = names(&journey);
            if let Ok(c) = other {
                available.extend(names(&c).into_iter().map(|n| format!("customers.{n}")));
            }
            return Err(EngineError::UnknownColumn {
                name: missing[0].clone(),
                available: available.join(", "),
            });
        }
    };
    let segments = customers.select(
        std::iter::once(col("customer_id").alias("segment_customer_id"))
            .chain(missing.iter().map(|b| col(b.as_str())))
            .collect::<Vec<_>>(),
    )?;
    Ok((events, Some(segments), missing))
}

/// Most steps taken into a funnel when none are configured.
pub const MAX_DEFAULT_STEPS: usize = 10;

/// One segmentation of the journey statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JourneySegmentation {
    /// The segment columns (none: overall).
    pub by: Vec<String>,
    /// Whether the times between steps are wanted: one aggregation more per step, so a
    /// segmentation that only needs conversion leaves them out.
    pub step_times: bool,
}

impl Engine {
    /// Funnel, step-time and cart statistics per (segment, period). Needs the table `journey`.
    pub async fn journey_stats(
        &self,
        q: &GroupQuery,
        settings: &JourneySettings,
    ) -> Result<JourneyGroups, EngineError> {
        let all = JourneySegmentation {
            by: q.by.clone(),
            step_times: true,
        };
        let mut all = self
            .journey_stats_by(q, std::slice::from_ref(&all), settings)
            .await?;
        Ok(all.remove(0))
    }

    /// Journey statistics for several segmentations at once: `q.by` names every column used,
    /// `sets` the columns of each segmentation. The expensive part — grouping the events into
    /// units — runs once; each segmentation then only groups the units. Segmentations without
    /// step times have empty time sketches.
    pub async fn journey_stats_by(
        &self,
        q: &GroupQuery,
        sets: &[JourneySegmentation],
        settings: &JourneySettings,
    ) -> Result<Vec<JourneyGroups>, EngineError> {
        let ctx = self.context();
        let (events, segments, from_customers) = journey_sources(ctx, q).await?;
        // Steps by number of events, for the default order and to find cart and purchase;
        // with configured steps, those are the steps (no pass over the events).
        let mut by_count: Vec<(String, u64)> = Vec::new();
        if settings.steps.is_empty() {
            for b in events
                .clone()
                .aggregate(vec![col("step")], vec![count(lit(1)).alias("n")])?
                .collect()
                .await?
            {
                let s = as_utf8(&b, "step")?;
                let n = column_u64(&b, "n")?;
                by_count.extend(s.into_iter().zip(n).filter_map(|(s, n)| Some((s?, n))));
            }
            by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        } else {
            by_count = settings.steps.iter().map(|s| (s.clone(), 0)).collect();
        }
        let present = |s: &str| by_count.iter().any(|(x, _)| x == s);
        let steps: Vec<String> = if settings.steps.is_empty() {
            by_count
                .iter()
                .take(MAX_DEFAULT_STEPS)
                .map(|(s, _)| s.clone())
                .collect()
        } else {
            settings.steps.clone()
        };
        let find = |configured: &Option<String>, names: &[&str]| {
            configured
                .clone()
                .or_else(|| names.iter().find(|n| present(n)).map(|n| n.to_string()))
        };
        let cart_steps = match (
            find(&settings.cart_step, CART_STEPS),
            find(&settings.purchase_step, PURCHASE_STEPS),
        ) {
            (Some(c), Some(p)) => Some((c, p)),
            _ => None,
        };
        let has_sessions = events
            .clone()
            .filter(col("session_id").is_not_null())?
            .limit(0, Some(1))?
            .count()
            .await?
            > 0;
        let unit = if has_sessions {
            "session_id"
        } else {
            "customer_id"
        };
        let first_of = |step: &str| {
            min(when(
                col("step").eq(lit(step.to_string())),
                cast(col("at"), DataType::Int64),
            )
            .end()
            .expect("a CASE"))
        };
        // One row per unit: its segment, first date and the first time of every step.
        // Segments from the journey are unit keys; those from the customer are joined to the
        // units after grouping (far fewer rows than events).
        let mut unit_group = vec![col(unit).alias("unit")];
        unit_group.extend(
            q.by.iter()
                .enumerate()
                .filter(|(_, b)| !from_customers.contains(b))
                .map(|(i, b)| crate::plan::segment_key(b).alias(format!("by_{}", i + 1))),
        );
        let mut firsts = vec![min(col("local_date")).alias("first_date")];
        // The unit's customer, for segments from the customer table: an aggregate, not a
        // grouping key, so that the events of a visit before logging in (no customer id) stay
        // in the visit, as they do without such segments. A visit with events of two customers
        // (a shared device) is credited to the smaller id.
        if segments.is_some() {
            firsts.push(min(col("customer_id")).alias("unit_customer"));
        }
        firsts.extend(
            steps
                .iter()
                .enumerate()
                .map(|(k, s)| first_of(s).alias(format!("f{k}"))),
        );
        if let Some((c, p)) = &cart_steps {
            firsts.push(first_of(c).alias("cart_at"));
            // The first purchase at or after the first cart cannot be a plain minimum; the
            // latest purchase is kept and compared with the window below, together with the
            // first one: a unit buys within the window when its first purchase is inside it,
            // or its first is earlier and its last is not after the window.
            firsts.push(first_of(p).alias("buy_first"));
            firsts.push(
                datafusion::functions_aggregate::expr_fn::max(
                    when(
                        col("step").eq(lit(p.clone())),
                        cast(col("at"), DataType::Int64),
                    )
                    .end()
                    .expect("a CASE"),
                )
                .alias("buy_last"),
            );
        }
        let mut units = events
            .filter(col(unit).is_not_null())?
            .aggregate(unit_group, firsts)?;
        if let Some(segments) = segments {
            units = units.join(
                segments,
                datafusion::common::JoinType::Left,
                &["unit_customer"],
                &["segment_customer_id"],
                None,
            )?;
            for (i, b) in q.by.iter().enumerate() {
                if from_customers.contains(b) {
                    units =
                        units.with_column(&format!("by_{}", i + 1), crate::plan::segment_key(b))?;
                }
            }
        }
        // The unit's period once, not in each of the segmentations' aggregations.
        if let Some(p) = q.period {
            units = units.with_column("unit_period", period_of(p, col("first_date")))?;
        }
        let t0 = std::time::Instant::now();
        let units = units.cache().await?;
        crate::timing("journey units", t0);
        let reached: Vec<Expr> = {
            let mut v: Vec<Expr> = Vec::new();
            for k in 0..steps.len() {
                let fk = col(format!("f{k}"));
                let r = if k == 0 {
                    fk.is_not_null()
                } else {
                    v[k - 1]
                        .clone()
                        .and(fk.clone().is_not_null())
                        .and(fk.gt_eq(col(format!("f{}", k - 1))))
                };
                v.push(r);
            }
            v
        };
        let mut out = Vec::with_capacity(sets.len());
        let t_sets = std::time::Instant::now();
        for segmentation in sets {
            let set = &segmentation.by;
            let position = |name: &String| q.by.iter().position(|b| b == name).expect("in q.by");
            // The set's columns, renamed by_1 … by_k in the set's order.
            let mut group: Vec<Expr> = set
                .iter()
                .enumerate()
                .map(|(j, name)| {
                    col(format!("by_{}", position(name) + 1)).alias(format!("by_{}", j + 1))
                })
                .collect();
            // Without the period: the step-time aggregations pack it with their bucket.
            let segments_only = group.clone();
            let period = q.period.map(|_| col("unit_period"));
            if let Some(p) = &period {
                group.push(p.clone().alias("period"));
            }
            let key_query = GroupQuery {
                by: set.clone(),
                ..q.clone()
            };
            let segments = GroupQuery {
                period: None,
                ..key_query.clone()
            };
            let mut aggs: Vec<Expr> = reached
                .iter()
                .enumerate()
                .map(|(k, r)| sum(indicator(r.clone())).alias(format!("r{k}")))
                .collect();
            if cart_steps.is_some() {
                let window = (settings.cart_window_hours * 3600.0 * MICROS as f64) as i64;
                let cart = col("cart_at");
                let in_window = |t: Expr| {
                    t.clone()
                        .gt_eq(cart.clone())
                        .and(t.lt_eq(cart.clone() + lit(window)))
                };
                let bought = cart.clone().is_not_null().and(
                    in_window(col("buy_first")).or(col("buy_first")
                        .lt(cart.clone())
                        .and(col("buy_last").gt_eq(cart.clone()))
                        .and(col("buy_last").lt_eq(cart.clone() + lit(window)))),
                );
                aggs.push(count(cart).alias("carts"));
                aggs.push(sum(indicator(coalesce(vec![bought, lit(false)]))).alias("bought"));
            }
            if aggs.is_empty() {
                aggs.push(count(lit(1)).alias("units"));
            }
            let mut counts: Groups<(Vec<u64>, CartStats)> = Groups::new();
            for b in units
                .clone()
                .aggregate(group.clone(), aggs)?
                .collect()
                .await?
            {
                let rows = counts.rows(&key_query, &b, None, || {
                    (vec![0; steps.len()], CartStats::default())
                })?;
                let r: Vec<Vec<u64>> = (0..steps.len())
                    .map(|k| column_u64(&b, &format!("r{k}")))
                    .collect::<Result<_, _>>()?;
                let carts = cart_steps
                    .as_ref()
                    .map(|_| {
                        Ok::<_, EngineError>((column_u64(&b, "carts")?, column_u64(&b, "bought")?))
                    })
                    .transpose()?;
                for (i, g) in rows.into_iter().enumerate() {
                    let e = counts.at(g);
                    for (total, step) in e.0.iter_mut().zip(&r) {
                        *total += step[i];
                    }
                    if let Some((c, p)) = &carts {
                        e.1.carts += c[i];
                        e.1.purchased += p[i];
                    }
                }
            }
            // Time from each step to the next, of the units reaching it.
            let ln_gamma = DdSketch::ln_gamma_for(DURATION_ACCURACY);
            let mut times: Vec<BTreeMap<SegmentPeriod, DdSketch>> = vec![BTreeMap::new()];
            for (k, reached_k) in reached.iter().enumerate().skip(1) {
                if !segmentation.step_times {
                    times.push(BTreeMap::new());
                    continue;
                }
                let secs = cast(
                    col(format!("f{k}")) - col(format!("f{}", k - 1)),
                    DataType::Float64,
                ) / lit(MICROS as f64);
                let mut g = segments_only.clone();
                let bucket = sketch_bucket(secs, ln_gamma);
                g.push(period_bucket(period.clone(), bucket).alias("period_bucket"));
                let mut sketches: Groups<DdSketch> = Groups::new();
                for b in units
                    .clone()
                    .filter(reached_k.clone())?
                    .aggregate(g, vec![count(lit(1)).alias("n")])?
                    .collect()
                    .await?
                {
                    let (periods, buckets): (Vec<_>, Vec<_>) = column_i64(&b, "period_bucket")?
                        .into_iter()
                        .map(split_period_bucket)
                        .unzip();
                    let rows = sketches.rows(&segments, &b, Some(&periods), || {
                        DdSketch::new(DURATION_ACCURACY).expect("valid")
                    })?;
                    let n = column_u64(&b, "n")?;
                    for (i, g) in rows.into_iter().enumerate() {
                        sketches.at(g).add_bucket(buckets[i], n[i]);
                    }
                }
                times.push(sketches.into_map());
            }
            let mut funnel = Vec::new();
            let mut carts = Vec::new();
            for ((segment, period_start), (reached, cart)) in counts.into_map() {
                let started = reached.first().copied().unwrap_or(0);
                if started > 0 {
                    for (k, step) in steps.iter().enumerate() {
                        let mut s = StepStats::new(k + 1, step);
                        s.started = started;
                        s.previous = if k == 0 { started } else { reached[k - 1] };
                        s.reached = reached[k];
                        if let Some(t) = times[k].remove(&(segment.clone(), period_start)) {
                            s.time = t;
                        }
                        let mut seg = segment.clone();
                        seg.push(Some(step.clone()));
                        funnel.push(Grouped {
                            key: GroupKey {
                                metric: "funnel".into(),
                                period_start,
                                segment: seg,
                            },
                            stats: s,
                        });
                    }
                }
                if cart.carts > 0 {
                    carts.push(Grouped {
                        key: GroupKey {
                            metric: "cart_abandonment".into(),
                            period_start,
                            segment,
                        },
                        stats: cart,
                    });
                }
            }
            out.push(JourneyGroups {
                steps: steps.clone(),
                funnel,
                carts,
                unit,
                cart_steps: cart_steps.clone(),
            });
        }
        crate::timing("journey segmentations", t_sets);
        Ok(out)
    }
}
