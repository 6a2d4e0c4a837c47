//! Journey metrics: ordered funnels over steps, the time between steps, and cart abandonment.
//!
//! The unit is the session (`session_id`), or the customer when events carry no session. A unit
//! **reaches step k** of the funnel `s₁ → … → s_K` when it reached step k − 1 and its first
//! `s_k` event is not earlier than its first `s_{k−1}` event; every unit with an `s₁` event
//! starts the funnel. A unit belongs to the period of its first event.
//!
//! | metric | value | n |
//! |---|---|---|
//! | `funnel` | % of units starting the funnel that reach the step | units starting the funnel |
//! | `step_conversion` | % reaching the step of those that reached the step before | units at the step before |
//! | `step_time` | median seconds from the first event of the step before to the first of this step | units reaching the step |
//! | `cart_abandonment` | % of units with a cart event and no purchase event within the window (default 24 h) after the first cart | units with a cart |
//!
//! Funnel rows carry the step as an extra segment key `step`, in funnel order.

use cxray_stats::Proportion;
use cxray_stats::quantile::DdSketch;
use serde_json::json;

use crate::operational::{
    Estimation, Grouped, OperationalStats, OperationalValue, defined, percent,
};
use crate::tickets::{DURATION_ACCURACY, duration_metric};

/// The answers' column of the journey step each answer follows (added by
/// `cxray_project`'s touchpoints), and its value for answers that follow none.
pub const TOUCHPOINT_COLUMN: &str = "journey_touchpoint";
pub const NO_TOUCHPOINT: &str = "none";

/// How the journey is read (`[journey]` in cxray.toml).
#[derive(Debug, Clone, PartialEq)]
pub struct JourneySettings {
    /// Funnel steps in order; empty = the steps in the data, most frequent first.
    pub steps: Vec<String>,
    /// The step that puts something in the cart, and the one that buys it.
    pub cart_step: Option<String>,
    pub purchase_step: Option<String>,
    /// A purchase later than this after the first cart event does not rescue the cart.
    pub cart_window_hours: f64,
}

impl Default for JourneySettings {
    fn default() -> Self {
        JourneySettings {
            steps: vec![],
            cart_step: None,
            purchase_step: None,
            cart_window_hours: 24.0,
        }
    }
}

/// Step names recognised as the cart step when none is configured.
pub const CART_STEPS: &[&str] = &[
    "cart",
    "add_to_cart",
    "add-to-cart",
    "basket",
    "add_to_basket",
];
/// Step names recognised as the purchase step when none is configured.
pub const PURCHASE_STEPS: &[&str] = &[
    "purchase",
    "order",
    "buy",
    "paid",
    "payment",
    "checkout_complete",
    "order_complete",
];

/// One step of a funnel in one group.
#[derive(Debug, Clone, PartialEq)]
pub struct StepStats {
    /// Position in the funnel, from 1.
    pub index: usize,
    pub step: String,
    /// Units starting the funnel.
    pub started: u64,
    /// Units that reached the step before (equals `started` for the first step).
    pub previous: u64,
    pub reached: u64,
    /// Seconds from the first event of the step before to the first of this step, of the units
    /// reaching it.
    pub time: DdSketch,
}

impl StepStats {
    pub fn new(index: usize, step: &str) -> Self {
        StepStats {
            index,
            step: step.to_string(),
            started: 0,
            previous: 0,
            reached: 0,
            time: DdSketch::new(DURATION_ACCURACY).expect("valid accuracy"),
        }
    }
}

/// Carts of one group.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CartStats {
    /// Units with a cart event.
    pub carts: u64,
    /// Of those, with a purchase event within the window after the first cart.
    pub purchased: u64,
}

/// Funnel steps and carts per group, as the engine returns them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JourneyGroups {
    /// Funnel order used.
    pub steps: Vec<String>,
    /// One group per (segment + step, period), in funnel order within each segment and period.
    pub funnel: Vec<Grouped<StepStats>>,
    pub carts: Vec<Grouped<CartStats>>,
    /// `session_id` or `customer_id`.
    pub unit: &'static str,
    /// The cart and purchase steps used, when the data has them.
    pub cart_steps: Option<(String, String)>,
}

impl OperationalStats for StepStats {
    type Settings = ();

    fn metric(&self, name: &str, _: &(), how: &Estimation) -> Option<OperationalValue> {
        let proportion = |k: u64, n: u64| {
            percent(Proportion::new(k, n).and_then(|p| p.estimate(how.confidence, how.proportion)))
        };
        let counts = |mut d: serde_json::Map<String, serde_json::Value>| {
            d.insert("step_index".into(), json!(self.index));
            d.insert("started".into(), json!(self.started));
            d.insert("previous".into(), json!(self.previous));
            d.insert("reached".into(), json!(self.reached));
            d.insert("dropped".into(), json!(self.previous - self.reached));
            d
        };
        Some(match name {
            "funnel" => OperationalValue {
                n: self.started,
                estimate: proportion(self.reached, self.started),
                detail: counts(defined(
                    "units starting the funnel that reached this step, in order",
                )),
                sampled: true,
            },
            "step_conversion" if self.index > 1 => OperationalValue {
                n: self.previous,
                estimate: proportion(self.reached, self.previous),
                detail: counts(defined(
                    "units reaching this step of those that reached the step before",
                )),
                sampled: true,
            },
            "step_time" if self.index > 1 => {
                let mut v = duration_metric(
                    &self.time,
                    "median seconds from the first event of the step before to the first event \
                     of this step",
                    how.confidence,
                );
                v.detail = counts(v.detail);
                v
            }
            _ => return None,
        })
    }
}

impl OperationalStats for CartStats {
    /// The window in hours.
    type Settings = f64;

    fn metric(&self, name: &str, window: &f64, how: &Estimation) -> Option<OperationalValue> {
        if name != "cart_abandonment" {
            return None;
        }
        let mut detail = defined(format!(
            "units with a cart event and no purchase within {window} h of the first cart ÷ units \
             with a cart event"
        ));
        detail.insert("carts".into(), json!(self.carts));
        detail.insert("purchased".into(), json!(self.purchased));
        detail.insert("window_hours".into(), json!(window));
        Some(OperationalValue {
            n: self.carts,
            estimate: percent(
                Proportion::new(self.carts - self.purchased, self.carts)
                    .and_then(|p| p.estimate(how.confidence, how.proportion)),
            ),
            detail,
            sampled: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// shared/reference/04_contact_center_growth.py: 500 carts, 150 orders: abandonment 0.7.
    #[test]
    fn cart_abandonment_is_one_minus_purchases_per_cart() {
        let c = CartStats {
            carts: 500,
            purchased: 150,
        };
        let m = c
            .metric("cart_abandonment", &24.0, &Estimation::default())
            .unwrap();
        assert!((m.estimate.unwrap().value - 70.0).abs() < 1e-9);
        assert_eq!(m.n, 500);
    }

    #[test]
    fn steps_report_conversion_from_start_and_from_the_step_before() {
        let mut s = StepStats::new(3, "checkout");
        s.started = 200;
        s.previous = 80;
        s.reached = 60;
        s.time.add(30.0).unwrap();
        let how = Estimation::default();
        let f = s.metric("funnel", &(), &how).unwrap();
        assert_eq!(f.estimate.unwrap().value, 30.0);
        assert_eq!(f.detail["dropped"], json!(20));
        let c = s.metric("step_conversion", &(), &how).unwrap();
        assert_eq!((c.n, c.estimate.unwrap().value), (80, 75.0));
        assert_eq!(s.metric("step_time", &(), &how).unwrap().n, 1);
        // The first step has no step before.
        let first = StepStats::new(1, "visit");
        assert!(first.metric("step_conversion", &(), &how).is_none());
        assert!(first.metric("step_time", &(), &how).is_none());
    }
}
