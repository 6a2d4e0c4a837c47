//! The one error type of the statistics core.
//!
//! Degenerate input never panics and never produces a silent NaN: every estimator either returns
//! a value or one of these errors, each of which says what was wrong in words a user can act on.

use thiserror::Error;

/// Why an estimate, interval or test could not be computed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StatsError {
    /// There were no observations (n = 0, or all weights zero).
    #[error("no observations: {what} needs at least one")]
    NoObservations { what: &'static str },
    /// Too few observations for the requested quantity (e.g. a variance from one value).
    #[error("too few observations: {what} needs at least {needed}, got {got}")]
    TooFewObservations {
        what: &'static str,
        needed: u64,
        got: u64,
    },
    /// A statistic whose denominator is zero (e.g. a t statistic with zero variance).
    #[error("undefined: {0}")]
    Undefined(String),
    /// A parameter outside its domain (confidence not in (0, 1), negative count, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Predictors that are (nearly) linear combinations of each other.
    #[error("collinear predictors: {0}")]
    Collinear(String),
    /// An iterative method did not reach its tolerance.
    #[error("did not converge: {0}")]
    NotConverged(String),
    /// Raking margins that cannot all be met (different totals, empty sample cells, ...).
    #[error("inconsistent margins: {0}")]
    InconsistentMargins(String),
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, StatsError>;

pub(crate) fn invalid(msg: impl Into<String>) -> StatsError {
    StatsError::InvalidArgument(msg.into())
}

/// Rejects NaN and infinities in inputs with a message naming the argument.
pub(crate) fn check_finite(name: &str, x: f64) -> Result<f64> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(invalid(format!("{name} must be finite, got {x}")))
    }
}

/// Rejects negative or non-finite counts/weights.
pub(crate) fn check_nonneg(name: &str, x: f64) -> Result<f64> {
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err(invalid(format!(
            "{name} must be a finite non-negative number, got {x}"
        )))
    }
}
