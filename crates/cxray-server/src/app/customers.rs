//! One customer: their cases, then every interaction in time order (answers, tickets, journey,
//! lifecycle, and each survey decision with its reason), from the project layer's timeline.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cxray_store::Session;
use maud::{Markup, html};

use super::{failed, message, page, when};
use crate::AppState;
use crate::error::ApiError;

/// The customer page of `id` (the id percent-encoded into the path).
pub(crate) fn customer_href(id: &str) -> String {
    let encoded: String = id
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/app/customers/{encoded}")
}

/// A customer's id as a link to their page; "anonymous" without one.
pub(crate) fn customer_link(id: Option<&str>) -> Markup {
    html! {
        @match id {
            Some(id) => a href=(customer_href(id)) { (id) },
            None => span.ns { "anonymous" },
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct FindQuery {
    id: Option<String>,
}

/// `GET /app/customers?id=…`: the form, or straight to the customer.
pub async fn find(Extension(session): Extension<Session>, Query(q): Query<FindQuery>) -> Response {
    if let Some(id) = q.id.as_deref().map(str::trim).filter(|i| !i.is_empty()) {
        return super::see_other(&customer_href(id));
    }
    page(
        Some(&session),
        StatusCode::OK,
        "Customers",
        "/app/customers",
        html! {
            h1 { "Customers" }
            form.filters method="get" action="/app/customers" {
                label { "Customer id " input name="id" required autofocus; }
                button type="submit" { "Show" }
            }
        },
    )
}

/// `GET /app/customers/{id}`
pub async fn show(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    let who = id.clone();
    let loaded = crate::read::blocking(&state, move |s| {
        let cases = s
            .with_reader(|r| r.cases_of_customer(&who))
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let timeline = match s.project() {
            Ok(p) => match p.customer(&who) {
                Ok(t) => Some(t),
                Err(e) if e.kind() == cxray_project::ErrorKind::NotFound => None,
                Err(e) => return Err(e.into()),
            },
            Err(ApiError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        Ok((cases, timeline))
    })
    .await;
    let (cases, timeline) = match loaded {
        Ok(x) => x,
        Err(e) => {
            return failed(&session, "The customer could not be read", &e);
        }
    };
    if cases.is_empty() && timeline.is_none() {
        return message(
            Some(&session),
            StatusCode::NOT_FOUND,
            "No such customer",
            &format!("Nothing in the project's data or the store is about customer {id:?}."),
        );
    }
    let interactions = timeline.map(|t| t.interactions).unwrap_or_default();
    page(
        Some(&session),
        StatusCode::OK,
        &format!("Customer {id}"),
        "/app/customers",
        html! {
            h1 { "Customer " (id) }
            @if !cases.is_empty() {
                h2 { "Cases" }
                ul.cases-of {
                    @for c in &cases {
                        li {
                            a href={ "/app/cases/" (c.case.id) } { "Case " (c.case.id) }
                            " · " (c.case.metric) " " (c.case.score) " · " (c.case.status.label())
                            " · opened " (when(c.case.opened_at))
                            @if let Some(comment) = &c.case.comment { " · " q { (comment) } }
                        }
                    }
                }
            }
            h2 { "Timeline" }
            p.fine { (interactions.len()) " interactions, newest first; survey decisions say why each invitation was or was not sent." }
            @if interactions.is_empty() {
                p.ns { "Nothing in the project's files about this customer." }
            } @else {
                ul.timeline {
                    @for i in interactions.iter().rev() {
                        li class=(i.entity) {
                            span.when { (i.at.replace('T', " ").replace('Z', " UTC")) }
                            " " span.entity { (i.entity) }
                            " " span.summary { (i.summary) }
                            @if !i.fields.is_empty() {
                                details {
                                    summary { "details" }
                                    dl.facts {
                                        @for (k, v) in &i.fields {
                                            dt { (k) } dd { (v) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}
