//! Every error the server answers with, and the one place where each becomes an HTTP status.
//! The body is always JSON: `{"error": code, "message": text, "rows": [...]}`, where `rows`
//! lists, for a request of many records, each record that was refused and why.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cxray_store::WriteError;

/// One refused record of a request: where it is in the body, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RowError {
    /// Line of the record in an NDJSON body; 1 for a JSON object; position (from 1) in a JSON
    /// array.
    pub line: u64,
    /// The field at fault (empty when the record as a whole is).
    pub field: String,
    /// The value refused (clipped), when there is one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    pub reason: String,
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The body is not what the route reads (not JSON, wrong shape): 400.
    #[error("{0}")]
    BadRequest(String),
    /// No key, or a key that is unknown or revoked: 401.
    #[error("{0}")]
    Unauthenticated(String),
    /// A valid key without the scope the route needs: 403.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The body is larger than the route accepts: 413.
    #[error("the body is larger than {limit} bytes; send fewer records per request")]
    TooLarge { limit: usize },
    /// A content type the route does not read: 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Some records are invalid; nothing of the request was stored: 422.
    #[error("{message}")]
    InvalidRows {
        message: String,
        rows: Vec<RowError>,
    },
    /// A record's id was stored before with other content: 409.
    #[error("{0}")]
    Conflict(String),
    /// Over the rate limit: 429, retry after the given seconds.
    #[error("too many requests; retry in {retry_after} s")]
    TooManyRequests { retry_after: u64 },
    /// The store's queue is full: 503, retry shortly.
    #[error("{0}")]
    Busy(String),
    /// The request was fine; the server failed: 500.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::InvalidRows { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code of the body.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthenticated(_) => "unauthenticated",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::TooLarge { .. } => "too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::InvalidRows { .. } => "invalid_rows",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooManyRequests { .. } => "rate_limited",
            ApiError::Busy(_) => "busy",
            ApiError::Internal(_) => "internal",
        }
    }

    /// 422 for one record.
    pub fn invalid(line: u64, field: &str, value: &str, reason: String) -> ApiError {
        ApiError::InvalidRows {
            message: "the record is invalid; nothing was stored".into(),
            rows: vec![RowError {
                line,
                field: field.into(),
                value: value.into(),
                reason,
            }],
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> ApiError {
        match e {
            WriteError::Invalid { .. } => ApiError::BadRequest(e.to_string()),
            WriteError::Conflict { .. } => ApiError::Conflict(e.to_string()),
            WriteError::Busy => ApiError::Busy(e.to_string()),
            WriteError::Storage(_) | WriteError::Closed => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<cxray_project::Error> for ApiError {
    fn from(e: cxray_project::Error) -> ApiError {
        use cxray_project::ErrorKind as K;
        match e.kind() {
            K::Usage => ApiError::BadRequest(e.to_string()),
            K::NotFound => ApiError::NotFound(e.to_string()),
            // The project's own data cannot be read: the server's problem, not the caller's.
            K::BadInput | K::Runtime => ApiError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({
            "error": self.code(),
            "message": self.to_string(),
        });
        if let ApiError::InvalidRows { rows, .. } = &self {
            body["rows"] = serde_json::to_value(rows).unwrap_or_default();
        }
        let mut response = (self.status(), axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthenticated(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"cxray\""),
                );
            }
            ApiError::TooManyRequests { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            ApiError::Busy(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(1u64));
            }
            _ => {}
        }
        response
    }
}
