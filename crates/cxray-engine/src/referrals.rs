//! Referral statistics per (segment of the referrer, period of the invitation): invitations and
//! conversions are summed per referrer, joined to the referrer's segment in `customers`, and
//! summed again per group with the cross-products the clustered intervals need; the customer
//! base comes from counting `customers` by segment and signup date.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cxray_metrics::referrals::{ReferralGroup, ReferralStats};
use datafusion::common::{Column, JoinType};
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::logical_expr::{Expr, col, lit};

use crate::plan::{GroupQuery, Groups, column_f64, column_u64, dates, day, period_of};
use crate::tickets::grouped;
use crate::{Engine, EngineError, as_utf8};

/// Customers who signed up on a date (None: date unknown).
type SignupCount = (Option<NaiveDate>, u64);

impl Engine {
    /// Referral statistics per (referrer segment, period). Needs the tables `referrals` and
    /// `customers`; `q.by` names columns of `customers`.
    pub async fn referral_stats(&self, q: &GroupQuery) -> Result<Vec<ReferralGroup>, EngineError> {
        let ctx = self.context();
        let customers = ctx.table("customers").await?;
        for b in &q.by {
            if customers.schema().field_with_unqualified_name(b).is_err() {
                let available: Vec<String> = customers
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .filter(|n| !matches!(n.as_str(), "source_line" | "source_file"))
                    .collect();
                return Err(EngineError::UnknownColumn {
                    name: format!("{b}' (referral segments are the referrer's customers columns"),
                    available: available.join(", "),
                });
            }
        }
        let by_cols = |prefix: &str| -> Vec<Expr> {
            q.by.iter()
                .enumerate()
                .map(|(i, b)| {
                    Expr::Column(Column::from_name(b.clone())).alias(format!("{prefix}{}", i + 1))
                })
                .collect()
        };
        // Invitations and conversions per referrer and period.
        let mut per_group = vec![col("referrer_id")];
        if let Some(p) = q.period {
            per_group.push(period_of(p, col("local_date")).alias("period"));
        }
        let referrals = GroupQuery {
            by: vec![],
            ..q.clone()
        }
        .table(ctx, "referrals")
        .await?;
        let per_referrer = referrals.aggregate(
            per_group,
            vec![
                count(lit(1)).alias("x"),
                count(col("converted_at")).alias("y"),
            ],
        )?;
        // Customer ids are unique (ingestion rejects repeats), so the join keeps one row per
        // referrer and period.
        let segments = customers.clone().select(
            std::iter::once(col("customer_id"))
                .chain(by_cols("by_"))
                .collect::<Vec<_>>(),
        )?;
        let joined = per_referrer.join(
            segments,
            JoinType::Left,
            &["referrer_id"],
            &["customer_id"],
            None,
        )?;
        let mut group: Vec<Expr> = (1..=q.by.len()).map(|i| col(format!("by_{i}"))).collect();
        if q.period.is_some() {
            group.push(col("period"));
        }
        let x = || {
            datafusion::logical_expr::cast(
                col("x"),
                datafusion::arrow::datatypes::DataType::Float64,
            )
        };
        let y = || {
            datafusion::logical_expr::cast(
                col("y"),
                datafusion::arrow::datatypes::DataType::Float64,
            )
        };
        let df = joined.aggregate(
            group,
            vec![
                count(lit(1)).alias("referrers"),
                sum(x()).alias("sx"),
                sum(y()).alias("sy"),
                sum(x() * x()).alias("sxx"),
                sum(y() * y()).alias("syy"),
                sum(x() * y()).alias("sxy"),
            ],
        )?;
        let mut groups: Groups<ReferralStats> = Groups::new();
        for b in df.collect().await? {
            let rows = groups.rows(q, &b, None, ReferralStats::default)?;
            let n = column_u64(&b, "referrers")?;
            let [sx, sy, sxx, syy, sxy] =
                ["sx", "sy", "sxx", "syy", "sxy"].map(|c| column_f64(&b, c));
            let (sx, sy, sxx, syy, sxy) = (sx?, sy?, sxx?, syy?, sxy?);
            for (i, g) in rows.into_iter().enumerate() {
                let r = &mut groups.at(g).referrers;
                r.clusters += n[i];
                r.sum_x += sx[i];
                r.sum_y += sy[i];
                r.sum_xx += sxx[i];
                r.sum_yy += syy[i];
                r.sum_xy += sxy[i];
            }
        }
        let mut groups = groups.into_map();
        // The customer base: customers by segment and signup date.
        let mut base_group = by_cols("by_");
        base_group.push(col("local_date").alias("signup_date"));
        let base = customers.aggregate(base_group, vec![count(lit(1)).alias("n")])?;
        let base = match q.until {
            Some(u) => base.filter(
                col("signup_date")
                    .is_null()
                    .or(col("signup_date").lt_eq(day(u))),
            )?,
            None => base,
        };
        let mut signups: BTreeMap<Vec<Option<String>>, Vec<SignupCount>> = BTreeMap::new();
        for b in base.collect().await? {
            let segs: Vec<Vec<Option<String>>> = (1..=q.by.len())
                .map(|i| as_utf8(&b, &format!("by_{i}")))
                .collect::<Result<_, _>>()?;
            let d = dates(&b, "signup_date")?;
            let n = column_u64(&b, "n")?;
            for i in 0..b.num_rows() {
                signups
                    .entry(segs.iter().map(|s| s[i].clone()).collect())
                    .or_default()
                    .push((d[i], n[i]));
            }
        }
        // Segments with customers but no referral in a period have K = 0: they are groups too.
        let periods: std::collections::BTreeSet<Option<NaiveDate>> =
            groups.keys().map(|(_, p)| *p).collect();
        for segment in signups.keys() {
            for p in &periods {
                groups.entry((segment.clone(), *p)).or_default();
            }
        }
        for ((segment, period), stats) in groups.iter_mut() {
            let end = period.map(|p| q.period.expect("grouped by period").next(p));
            stats.customers = signups.get(segment).map_or(0, |v| {
                v.iter()
                    .filter(|(d, _)| match (d, end) {
                        (Some(d), Some(e)) => *d < e,
                        _ => true,
                    })
                    .map(|(_, n)| n)
                    .sum()
            });
        }
        Ok(grouped(groups, "referrals"))
    }
}
