//! # cxray-stats
//!
//! The statistics core of cxray: it turns small, mergeable **sufficient statistics** (counts per
//! score, sums, cross-products, events at risk) into estimates with honest intervals and into
//! tests that say whether a difference is real. It does no I/O and knows nothing about files or
//! query engines; every formula is stated in the module that implements it, with its reference,
//! and is tested against R and Python reference implementations (see `tests/reference.rs`).
//!
//! ```
//! use cxray_stats::{Confidence, NpsCounts, NpsInterval};
//!
//! // 20 detractors, 30 passives, 50 promoters.
//! let nps = NpsCounts::new(20, 30, 50)
//!     .estimate(Confidence::new(0.95).unwrap(), NpsInterval::Wald)
//!     .unwrap();
//! assert!((nps.value - 30.0).abs() < 1e-12);
//! let ci = nps.interval.unwrap();
//! assert!((ci.low - 14.69219192).abs() < 1e-6 && (ci.high - 45.30780808).abs() < 1e-6);
//! ```
//!
//! Modules: [`calibration`], [`nps`], [`proportion`], [`mean`], [`weighted`], [`raking`], [`multiple`],
//! [`control`], [`survival`], [`cox`], [`regression`], [`decompose`], [`quantile`], [`ratio`], [`rate`].

pub mod calibration;
pub mod control;
pub mod cox;
pub mod decompose;
pub mod dist;
pub mod error;
pub mod estimate;
pub mod mean;
pub mod multiple;
pub mod nps;
pub mod proportion;
pub mod quantile;
pub mod raking;
pub mod rate;
pub mod ratio;
pub mod regression;
pub mod survival;
pub mod weighted;

pub use error::{Result, StatsError};
pub use estimate::{Comparison, Confidence, Estimate, Interval, z_test_from_se};
pub use mean::Moments;
pub use multiple::{Adjustment, adjust_p_values};
pub use nps::{NpsCounts, NpsInterval, nps_difference};
pub use proportion::{DifferenceInterval, Proportion, ProportionInterval, two_proportion_test};
