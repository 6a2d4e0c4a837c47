//! The read endpoints: the project layer's analyses of the served project, run on the blocking
//! pool (never on the threads that answer requests), from query parameters.

use chrono::NaiveDate;
use cxray_metrics::period::Period;
use cxray_project::{MetricsRequest, ReportRequest};

use crate::AppState;
use crate::error::ApiError;

/// Runs `f` on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || f(&state))
        .await
        .map_err(|e| ApiError::Internal(format!("the work on the blocking pool failed: {e}")))?
}

/// Query parameters, checked against those a route knows.
struct Params<'a> {
    pairs: &'a [(String, String)],
}

impl<'a> Params<'a> {
    fn new(pairs: &'a [(String, String)], known: &[&str]) -> Result<Self, ApiError> {
        if let Some((k, _)) = pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            return Err(ApiError::BadRequest(format!(
                "unknown query parameter {k:?}; this route takes: {}",
                known.join(", ")
            )));
        }
        Ok(Params { pairs })
    }

    /// Every value of `name`, comma-separated lists split.
    fn list(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }

    fn one(&self, name: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn date(&self, name: &str) -> Result<Option<NaiveDate>, ApiError> {
        self.one(name).map(|v| date(name, v)).transpose()
    }

    fn period(&self) -> Result<Option<Period>, ApiError> {
        self.one("period")
            .map(|v| {
                Period::parse(&v.to_ascii_lowercase()).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "period={v:?}: use day, week, month, quarter or year"
                    ))
                })
            })
            .transpose()
    }
}

/// The date of a query parameter (`YYYY-MM-DD`), or why it is not one.
pub(crate) fn date(name: &str, v: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::BadRequest(format!("{name}={v:?} is not a date (YYYY-MM-DD)")))
}

/// `GET /api/v1/metrics?metric=nps,csat&by=region&period=month&since=…&until=…`
pub fn metrics_request(q: &[(String, String)]) -> Result<MetricsRequest, ApiError> {
    let p = Params::new(q, &["metric", "by", "period", "since", "until"])?;
    Ok(MetricsRequest {
        metrics: p.list("metric"),
        by: p.list("by"),
        period: p.period()?,
        since: p.date("since")?,
        until: p.date("until")?,
        ..Default::default()
    })
}

/// `GET /api/v1/report?by=region&period=month&since=…&until=…`
pub fn report_request(q: &[(String, String)]) -> Result<ReportRequest, ApiError> {
    let p = Params::new(q, &["by", "period", "since", "until"])?;
    let mut r = ReportRequest {
        by: p.list("by"),
        since: p.date("since")?,
        until: p.date("until")?,
        ..Default::default()
    };
    if let Some(period) = p.period()? {
        r.period = period;
    }
    Ok(r)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A query string's pairs.
    pub(crate) fn q(s: &[(&str, &str)]) -> Vec<(String, String)> {
        s.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn queries_become_requests_and_unknown_parameters_are_refused() {
        let r = metrics_request(&q(&[
            ("metric", "nps, csat"),
            ("by", "region"),
            ("period", "Month"),
            ("since", "2025-01-01"),
        ]))
        .unwrap();
        assert_eq!(r.metrics, vec!["nps", "csat"]);
        assert_eq!(r.by, vec!["region"]);
        assert_eq!(r.period, Some(Period::Month));
        assert_eq!(r.since, NaiveDate::from_ymd_opt(2025, 1, 1));
        for bad in [
            q(&[("metrics", "nps")]),
            q(&[("period", "fortnight")]),
            q(&[("until", "01/02/2025")]),
        ] {
            assert!(
                matches!(metrics_request(&bad), Err(ApiError::BadRequest(_))),
                "{bad:?}"
            );
        }
        assert!(report_request(&q(&[("metric", "nps")])).is_err());
    }
}
