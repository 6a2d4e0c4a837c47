//! Retention: Kaplan-Meier curves of customers' first spells by signup cohort and segment,
//! with log-rank tests (see `cxray_insights::retention`).

use chrono::NaiveDate;
use cxray_insights::retention::{Retention, RetentionOptions};
use cxray_metrics::period::Period;
use cxray_stats::Confidence;
use serde::Serialize;

use crate::answers::trimmed;
use crate::error::{Error, Result};
use crate::lifecycle::Lifecycle;
use crate::project::{InputSummary, Project};

/// What `retention` computes.
#[derive(Debug, Clone)]
pub struct RetentionRequest {
    /// Segment columns (of lifecycle or customers) to compare.
    pub by: Vec<String>,
    /// Group customers by the period their first spell started.
    pub cohort: Option<Period>,
    /// Horizons in days at which retention is reported.
    pub horizons: Vec<f64>,
    /// Last day of data used (default: the last event).
    pub until: Option<NaiveDate>,
    pub confidence: Confidence,
    /// Significance level of the log-rank verdict.
    pub alpha: f64,
}

impl Default for RetentionRequest {
    fn default() -> Self {
        RetentionRequest {
            by: vec![],
            cohort: None,
            horizons: vec![30.0, 90.0, 180.0, 365.0],
            until: None,
            confidence: Confidence::new(0.95).expect("0.95 is a confidence level"),
            alpha: 0.05,
        }
    }
}

/// Retention curves with the input behind them.
#[derive(Debug, Clone, Serialize)]
pub struct RetentionOutput {
    pub retention: Retention,
    pub input: InputSummary,
}

impl Project {
    /// Kaplan-Meier retention by cohort and segment.
    pub fn retention(&self, req: &RetentionRequest) -> Result<RetentionOutput> {
        crate::explain::check_alpha(req.alpha)?;
        if let Some(h) = req.horizons.iter().find(|h| !(h.is_finite() && **h >= 0.0)) {
            return Err(
                Error::usage(format!("horizons are days of 0 or more, got {h}")).about("horizons"),
            );
        }
        let by = trimmed(&req.by);
        let lifecycle = Lifecycle::load(self, &by, true)?;
        let opts = RetentionOptions {
            by,
            cohort: req.cohort,
            horizons: req.horizons.clone(),
            confidence: req.confidence,
            alpha: req.alpha,
        };
        let retention = lifecycle.retention(&opts, req.until)?;
        let input = InputSummary::of_all(lifecycle.tables().iter().map(|t| t.as_ref()))
            .expect("the lifecycle table");
        Ok(RetentionOutput { retention, input })
    }
}
