//! Explain a change of an aggregate metric between two periods as **mix** (segments' shares
//! shifted) plus **rate** (the metric changed within segments).
//!
//! The aggregate is M = Σ wₛ rₛ with wₛ the share of segment s and rₛ its metric (an NPS is exactly
//! the share-weighted mean of segment NPS values). The symmetric Kitagawa (1955) split, equal to
//! Das Gupta's (1993) two-factor decomposition (R `DasGuptR::dgnpop`), is
//!
//! mixₛ = (w₂ₛ - w₁ₛ)·(r₁ₛ + r₂ₛ)/2,  rateₛ = (r₂ₛ - r₁ₛ)·(w₁ₛ + w₂ₛ)/2,
//!
//! and Σ(mixₛ + rateₛ) = M₂ - M₁ exactly, with no interaction term. A segment present in only one
//! period has no rate there; it is taken equal to its rate in the other period, so its whole
//! contribution is mix (it appeared or disappeared).

use serde::Serialize;

use crate::error::{Result, StatsError, check_finite, check_nonneg};

/// A segment's size and metric in the two periods. Sizes are counts (or weights); they are
/// turned into shares within each period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SegmentPeriods {
    pub size_before: f64,
    pub rate_before: Option<f64>,
    pub size_after: f64,
    pub rate_after: Option<f64>,
}

/// One segment's part of the change.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SegmentContribution {
    pub share_before: f64,
    pub share_after: f64,
    pub mix: f64,
    pub rate: f64,
    pub total: f64,
}

/// The decomposition of a change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decomposition {
    pub before: f64,
    pub after: f64,
    pub change: f64,
    pub mix: f64,
    pub rate: f64,
    pub segments: Vec<SegmentContribution>,
}

/// Kitagawa mix/rate decomposition of the change from `before` to `after`.
pub fn mix_rate(segments: &[SegmentPeriods]) -> Result<Decomposition> {
    let mut t1 = 0.0;
    let mut t2 = 0.0;
    for s in segments {
        check_nonneg("segment size", s.size_before)?;
        check_nonneg("segment size", s.size_after)?;
        if s.size_before > 0.0 && s.rate_before.is_none() {
            return Err(StatsError::Undefined(
                "a segment with answers before has no metric before".into(),
            ));
        }
        if s.size_after > 0.0 && s.rate_after.is_none() {
            return Err(StatsError::Undefined(
                "a segment with answers after has no metric after".into(),
            ));
        }
        for r in [s.rate_before, s.rate_after].into_iter().flatten() {
            check_finite("segment metric", r)?;
        }
        t1 += s.size_before;
        t2 += s.size_after;
    }
    if t1 <= 0.0 || t2 <= 0.0 {
        return Err(StatsError::NoObservations {
            what: "a mix/rate decomposition (both periods need answers)",
        });
    }
    let mut out = Decomposition {
        before: 0.0,
        after: 0.0,
        change: 0.0,
        mix: 0.0,
        rate: 0.0,
        segments: Vec::with_capacity(segments.len()),
    };
    for s in segments {
        let (w1, w2) = (s.size_before / t1, s.size_after / t2);
        let (r1, r2) = match (s.rate_before, s.rate_after) {
            (Some(a), Some(b)) => (a, b),
            (Some(a), None) => (a, a),
            (None, Some(b)) => (b, b),
            (None, None) => (0.0, 0.0),
        };
        let mix = (w2 - w1) * (r1 + r2) / 2.0;
        let rate = (r2 - r1) * (w1 + w2) / 2.0;
        out.before += w1 * r1;
        out.after += w2 * r2;
        out.mix += mix;
        out.rate += rate;
        out.segments.push(SegmentContribution {
            share_before: w1,
            share_after: w2,
            mix,
            rate,
            total: mix + rate,
        });
    }
    out.change = out.after - out.before;
    Ok(out)
}
