//! Operational metrics — tickets, the contact-centre queue, referrals, journeys, churn — share
//! one shape: a family of metrics computed from one kind of per-group sufficient statistics
//! (counts, sums, duration sketches). A family implements [`OperationalStats`]; the metrics table
//! and the report treat every family alike, so a new family is one `impl` and its engine plan.

use cxray_stats::{Confidence, Estimate, ProportionInterval, StatsError};
use serde_json::{Map, Value};

/// How estimates are made: the confidence level and the interval of proportions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimation {
    pub confidence: Confidence,
    pub proportion: ProportionInterval,
}

impl Default for Estimation {
    fn default() -> Self {
        Estimation {
            confidence: Confidence::default(),
            proportion: ProportionInterval::Wilson,
        }
    }
}

/// One operational metric of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationalValue {
    /// What the metric rests on: resolved tickets for FCR, offered contacts for abandonment,
    /// customers at the start of the period for churn.
    pub n: u64,
    pub estimate: Result<Estimate, StatsError>,
    /// Counts and settings behind the value, and its definition in words.
    pub detail: Map<String, Value>,
    /// False for plain counts of the data (volume), which are not samples and are never "too
    /// few".
    pub sampled: bool,
}

/// A family of operational metrics over one kind of per-group statistics.
pub trait OperationalStats {
    /// Settings that change definitions (windows, thresholds), stated in the output.
    type Settings;

    /// The metric `name` of this group; `None` when the family has no such metric.
    fn metric(
        &self,
        name: &str,
        settings: &Self::Settings,
        how: &Estimation,
    ) -> Option<OperationalValue>;
}

/// Statistics of one (segment, period) group.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouped<S> {
    pub key: crate::period::GroupKey,
    pub stats: S,
}

/// A proportion on the percent scale (as CSAT and task completion are reported).
pub fn percent(e: Result<Estimate, StatsError>) -> Result<Estimate, StatsError> {
    e.map(|e| e.scaled(100.0))
}

/// A count reported without an interval: it is a census of the data, not a sample.
pub fn count_estimate(n: u64) -> Estimate {
    Estimate {
        value: n as f64,
        n,
        n_effective: n as f64,
        se: None,
        interval: None,
        method: "count",
        note: None,
    }
}

/// Starts a detail map with the metric's definition.
pub fn defined(definition: impl Into<String>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("definition".into(), Value::from(definition.into()));
    m
}

/// The operational data a metric is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Support tickets.
    Tickets,
    /// Lifecycle events (start, cancel, activity).
    Churn,
    /// The contact-centre queue (calls and chats offered).
    Queue,
    /// Referral invitations and the customer base.
    Referrals,
    /// Journey events (funnel steps).
    Journey,
}

/// One operational metric: its name, family, display name and what its value means.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OperationalMetricDef {
    pub name: &'static str,
    pub family: Family,
    pub display_name: &'static str,
    pub value_label: &'static str,
}

const fn def(
    name: &'static str,
    family: Family,
    display_name: &'static str,
    value_label: &'static str,
) -> OperationalMetricDef {
    OperationalMetricDef {
        name,
        family,
        display_name,
        value_label,
    }
}

/// Every operational metric, in report order. Definitions and formulas: `docs/metrics.md`.
pub const OPERATIONAL_METRICS: &[OperationalMetricDef] = &[
    def(
        "tickets",
        Family::Tickets,
        "Ticket volume",
        "tickets created",
    ),
    def(
        "fcr",
        Family::Tickets,
        "First contact resolution",
        "% resolved in one contact",
    ),
    def(
        "frt",
        Family::Tickets,
        "First response time",
        "median seconds (p90 in detail)",
    ),
    def(
        "ttr",
        Family::Tickets,
        "Time to resolution",
        "median seconds (p90 in detail)",
    ),
    def(
        "aht",
        Family::Tickets,
        "Average handle time",
        "mean seconds",
    ),
    def(
        "reopen",
        Family::Tickets,
        "Reopen rate",
        "% of resolved tickets reopened",
    ),
    def(
        "backlog",
        Family::Tickets,
        "Ticket backlog",
        "tickets open at the end of the period",
    ),
    def(
        "churn",
        Family::Churn,
        "Customer churn rate",
        "% of customers at the period start who churned in it",
    ),
    def(
        "reactivation",
        Family::Churn,
        "Reactivation rate",
        "% of lapsed customers who came back",
    ),
    def(
        "abandonment",
        Family::Queue,
        "Abandonment rate",
        "% of offered calls/chats abandoned (short abandons excluded)",
    ),
    def(
        "asa",
        Family::Queue,
        "Average speed of answer",
        "mean seconds to answer",
    ),
    def(
        "service_level",
        Family::Queue,
        "Service level",
        "% answered within the threshold",
    ),
    def(
        "kfactor",
        Family::Referrals,
        "K-factor",
        "referred customers per customer",
    ),
    def(
        "referral_conversion",
        Family::Referrals,
        "Referral conversion",
        "% of referral invitations converted",
    ),
    def(
        "funnel",
        Family::Journey,
        "Funnel",
        "% of sessions starting the funnel that reach the step",
    ),
    def(
        "step_conversion",
        Family::Journey,
        "Step conversion",
        "% reaching the step of those at the step before",
    ),
    def(
        "step_time",
        Family::Journey,
        "Time to step",
        "median seconds from the step before",
    ),
    def(
        "cart_abandonment",
        Family::Journey,
        "Cart abandonment",
        "% of carts without a purchase within the window",
    ),
];

/// The operational metric called `name`.
pub fn operational_metric(name: &str) -> Option<&'static OperationalMetricDef> {
    OPERATIONAL_METRICS.iter().find(|d| d.name == name)
}
