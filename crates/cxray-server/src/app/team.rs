//! The team (admins only): members with their roles; add one, change one's role and password,
//! remove one. An admin cannot remove or demote themselves (the team would risk having no
//! admin left); `cxray user add` on the server's machine always can.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cxray_store::{Member, Role, Session};
use maud::html;

use super::{failed, field, form_fields, page, see_other, when};
use crate::AppState;
use crate::error::ApiError;

/// `GET /app/team`
pub async fn list(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Response {
    match crate::read::blocking(&state, |s| s.with_admin(|k| k.members())).await {
        Ok(members) => team_page(&session, &members, None, StatusCode::OK),
        Err(e) => failed(&session, "The team could not be read", &e),
    }
}

fn team_page(
    session: &Session,
    members: &[Member],
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let now = chrono::Utc::now().timestamp_micros();
    page(
        Some(session),
        status,
        "Team",
        "/app/team",
        html! {
            h1 { "Team" }
            @if let Some(p) = problem { p.problem role="alert" { (p) } }
            div.table-wrap {
                table {
                    thead { tr { th { "Member" } th { "Role" } th { "Since" } th { "" } } }
                    tbody {
                        @for m in members {
                            tr {
                                td { (m.name) }
                                td { (m.role.name()) }
                                td { (when(m.created_at)) }
                                td {
                                    @if m.locked_until.is_some_and(|t| t > now) { "locked out · " }
                                    @if !m.name.eq_ignore_ascii_case(&session.member) {
                                        form.inline method="post" action="/app/team" {
                                            input type="hidden" name="csrf" value=(session.csrf);
                                            input type="hidden" name="action" value="remove";
                                            input type="hidden" name="name" value=(m.name);
                                            button type="submit" { "Remove" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Add a member, or change one" }
            form.member method="post" action="/app/team" {
                input type="hidden" name="csrf" value=(session.csrf);
                label { "Name " input name="name" required autocomplete="off"; }
                label { "Role "
                    select name="role" {
                        @for r in Role::ALL { option value=(r.name()) { (r.name()) } }
                    }
                }
                label { "Password " input name="password" type="password" required autocomplete="new-password" minlength=(cxray_store::MIN_PASSWORD_CHARS); }
                label.check { input type="checkbox" name="action" value="replace"; " replace an existing member's role and password (ends their sessions)" }
                button type="submit" { "Save" }
            }
        },
    )
}

/// `POST /app/team`: action = add (default) | replace | remove; name, role, password.
pub async fn change(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    body: Bytes,
) -> Response {
    let fields = form_fields(&body);
    let name = field(&fields, "name").unwrap_or("").trim().to_string();
    let action = field(&fields, "action").unwrap_or("add").to_string();
    let role = field(&fields, "role").and_then(Role::parse);
    let password = field(&fields, "password").unwrap_or("").to_string();
    let me = session.member.clone();
    let done = crate::read::blocking(&state, move |s| {
        let own = name.eq_ignore_ascii_case(&me);
        match action.as_str() {
            "remove" if own => Err(ApiError::BadRequest("you cannot remove yourself".into())),
            "remove" => match s.with_admin(|k| k.remove_member(&name))? {
                true => Ok(()),
                false => Err(ApiError::BadRequest(format!("there is no member {name:?}"))),
            },
            "add" | "replace" => {
                let Some(role) = role else {
                    return Err(ApiError::BadRequest(
                        "choose a role: viewer, analyst or admin".into(),
                    ));
                };
                if own && role != Role::Admin {
                    return Err(ApiError::BadRequest(
                        "you cannot take the admin role from yourself".into(),
                    ));
                }
                if let Some(p) = cxray_store::member_name_problem(&name)
                    .or_else(|| cxray_store::password_problem(&password))
                {
                    return Err(ApiError::BadRequest(p));
                }
                let exists = s.with_admin(|k| k.member(&name))?.is_some();
                if exists != (action == "replace") {
                    return Err(ApiError::BadRequest(if exists {
                        format!(
                            "there is a member {name:?} already: tick \"replace\" to change them"
                        )
                    } else {
                        format!("there is no member {name:?} to replace")
                    }));
                }
                s.with_admin(|k| k.add_member(&name, role, &password, exists))
                    .map(|_| ())
            }
            other => Err(ApiError::BadRequest(format!(
                "action {other:?}: use add, replace or remove"
            ))),
        }
    })
    .await;
    match done {
        Ok(()) => see_other("/app/team"),
        Err(ApiError::BadRequest(m)) => {
            let members = crate::read::blocking(&state, |s| s.with_admin(|k| k.members()))
                .await
                .unwrap_or_default();
            team_page(&session, &members, Some(&m), StatusCode::BAD_REQUEST)
        }
        Err(e) => failed(&session, "Not done", &e),
    }
}
