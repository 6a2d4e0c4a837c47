//! Referral metrics: K-factor and the conversion of referral invitations.
//!
//! | metric | value | definition |
//! |---|---|---|
//! | `kfactor` | referred customers per customer | K = i × c = (invitations ÷ customers) × (conversions ÷ invitations) = conversions ÷ customers |
//! | `referral_conversion` | % | conversions ÷ invitations |
//!
//! Invitations are placed in the period they were sent; a conversion counts for the period of its
//! invitation. The customer base of a period is every customer who had signed up by its last
//! day (customers without a signup date always count).
//!
//! Intervals treat the customer, not the invitation, as the independent unit, because one
//! customer's invitations go to the same circle of friends: K is the mean of conversions per
//! customer (zeros for customers who referred nobody) with a t-interval; the conversion rate is
//! a ratio of totals over referrers with its clustered linearisation SE
//! ([`cxray_stats::ratio::RatioSums`]).

use cxray_stats::Moments;
use cxray_stats::ratio::RatioSums;
use serde_json::json;

use crate::operational::{
    Estimation, Grouped, OperationalStats, OperationalValue, defined, percent,
};

/// Sufficient statistics of referrals in a group.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReferralStats {
    /// Customers in the base (signed up by the end of the period).
    pub customers: u64,
    /// Per referrer: x = invitations sent, y = invitations converted.
    pub referrers: RatioSums,
}

/// Referral statistics of one (segment, period) group.
pub type ReferralGroup = Grouped<ReferralStats>;

impl OperationalStats for ReferralStats {
    type Settings = ();

    fn metric(&self, name: &str, _: &(), how: &Estimation) -> Option<OperationalValue> {
        let r = &self.referrers;
        let mut detail = defined(match name {
            "kfactor" => {
                "K = invitations per customer × conversion rate = converted invitations ÷ \
                 customers signed up by the end of the period"
            }
            "referral_conversion" => "converted invitations ÷ invitations sent in the period",
            _ => return None,
        });
        detail.insert("customers".into(), json!(self.customers));
        detail.insert("referrers".into(), json!(r.clusters));
        detail.insert("invitations".into(), json!(r.sum_x));
        detail.insert("conversions".into(), json!(r.sum_y));
        if self.customers > 0 {
            detail.insert(
                "invitations_per_customer".into(),
                json!(r.sum_x / self.customers as f64),
            );
        }
        if r.sum_x > 0.0 {
            detail.insert("conversion_rate".into(), json!(r.sum_y / r.sum_x));
        }
        Some(if name == "kfactor" {
            let mut estimate = Moments::from_sums(self.customers, r.sum_y, r.sum_yy)
                .and_then(|m| m.estimate(how.confidence));
            if r.clusters > self.customers
                && let Ok(e) = &mut estimate
            {
                e.note = Some(format!(
                    "{} referrers but only {} customers in the base: referrers are missing from \
                     the customers data",
                    r.clusters, self.customers
                ));
            }
            OperationalValue {
                n: self.customers,
                estimate,
                detail,
                sampled: true,
            }
        } else {
            OperationalValue {
                n: r.sum_x as u64,
                estimate: percent(r.estimate(how.confidence, true)),
                detail,
                sampled: true,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// shared/reference/04_contact_center_growth.py: 1,000 users, 3,000 invitations, 450
    /// sign-ups: i = 3, c = 0.15, K = 0.45.
    #[test]
    fn k_factor_is_invitations_per_customer_times_conversion() {
        let mut referrers = RatioSums::default();
        // 300 referrers with 10 invitations each, 150 of them converting 3.
        for k in 0..300 {
            referrers.push(10.0, if k < 150 { 3.0 } else { 0.0 });
        }
        let s = ReferralStats {
            customers: 1000,
            referrers,
        };
        let how = Estimation::default();
        let k = s.metric("kfactor", &(), &how).unwrap();
        let e = k.estimate.unwrap();
        assert!((e.value - 0.45).abs() < 1e-12);
        assert_eq!(k.detail["invitations_per_customer"], json!(3.0));
        assert_eq!(k.detail["conversion_rate"], json!(0.15));
        // Per-customer conversions: 150 threes and 850 zeros; sd = sqrt((150·9 − 450²/1000)/999).
        let sd = ((150.0 * 9.0 - 450.0f64.powi(2) / 1000.0) / 999.0f64).sqrt();
        assert!((e.se.unwrap() - sd / 1000f64.sqrt()).abs() < 1e-12);
        let c = s.metric("referral_conversion", &(), &how).unwrap();
        assert!((c.estimate.unwrap().value - 15.0).abs() < 1e-9);
        assert_eq!(c.n, 3000);
        assert!(s.metric("nps", &(), &how).is_none());
    }
}
