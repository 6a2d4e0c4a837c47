//! A server on a temporary store, called in process (no socket), with a key of each scope.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use cxray_server::{AppState, Limits, ServerConfig};
use cxray_store::{Keys, Scope};
use serde_json::Value;
use tower::ServiceExt;

pub mod smtp;

/// The project of the store `dir/cxray.db` alone, read as `cxray report cxray.db` reads it.
pub fn store_project(dir: &std::path::Path) -> cxray_project::Project {
    let mut config = cxray_project::ProjectConfig::default();
    config.sources.push(cxray_ingest::SourceConfig {
        path: dir.join("cxray.db"),
        ..Default::default()
    });
    cxray_project::Project::with_config(
        config,
        &dir.join("cxray.toml"),
        false,
        cxray_project::OpenOptions {
            providers: vec![std::sync::Arc::new(cxray_store::StoreSource)],
            ..Default::default()
        },
    )
    .unwrap()
}

/// A server of a project (its `cxray.toml` text) on the store `dir/cxray.db`, with one key of
/// every scope; `configure` sets the rest of its configuration.
pub struct ProjectServer {
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub app: axum::Router,
    pub key: String,
}

pub fn project_server(
    dir: tempfile::TempDir,
    project: &str,
    configure: impl FnOnce(&mut ServerConfig),
) -> ProjectServer {
    let db = dir.path().join("cxray.db");
    let keys = Keys::open(&db).unwrap();
    let key = keys.add("all", &Scope::ALL).unwrap().secret;
    drop(keys);
    let mut config = ServerConfig::new(&db);
    config.project = Some((
        toml::from_str(project).unwrap(),
        dir.path().join("cxray.toml"),
    ));
    configure(&mut config);
    let state = AppState::open(config).unwrap();
    ProjectServer {
        app: cxray_server::app(state.clone()),
        state,
        dir,
        key,
    }
}

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub app: axum::Router,
    /// Keys with exactly one scope each, and one that was revoked.
    pub collect: String,
    pub read: String,
    pub admin: String,
    pub revoked: String,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestServer {
    pub fn new() -> TestServer {
        TestServer::with_limits(Limits::default())
    }

    pub fn with_limits(limits: Limits) -> TestServer {
        TestServer::build(limits, None)
    }

    /// A server of a project (its surveys, its sources).
    pub fn with_project(project: cxray_project::ProjectConfig) -> TestServer {
        TestServer::build(Limits::default(), Some(project))
    }

    pub fn with_project_and_limits(
        project: cxray_project::ProjectConfig,
        limits: Limits,
    ) -> TestServer {
        TestServer::build(limits, Some(project))
    }

    fn build(limits: Limits, project: Option<cxray_project::ProjectConfig>) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cxray.db");
        let keys = Keys::open(&db).unwrap();
        let make = |s: Scope| keys.add(s.name(), &[s]).unwrap().secret;
        let (collect, read, admin) = (make(Scope::Collect), make(Scope::Read), make(Scope::Admin));
        let gone = keys.add("old", &Scope::ALL).unwrap();
        keys.revoke(&gone.key.prefix).unwrap();
        drop(keys);
        let mut config = ServerConfig::new(&db);
        config.limits = limits;
        config.project = project.map(|p| (p, dir.path().join("cxray.toml")));
        let state = AppState::open(config).unwrap();
        TestServer {
            app: cxray_server::app(state.clone()),
            dir,
            state,
            collect,
            read,
            admin,
            revoked: gone.secret,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        if let Some(c) = content_type {
            req = req.header("content-type", c);
        }
        let response = self
            .app
            .clone()
            .oneshot(req.body(body.into()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text,
        }
    }

    pub async fn get(&self, path: &str, key: &str) -> Answer {
        self.call(Method::GET, path, Some(key), None, "").await
    }

    pub async fn post_json(&self, path: &str, body: &str) -> Answer {
        self.call(
            Method::POST,
            path,
            Some(&self.collect),
            Some("application/json"),
            body.to_string(),
        )
        .await
    }

    pub async fn post_ndjson(&self, path: &str, body: &str) -> Answer {
        self.call(
            Method::POST,
            path,
            Some(&self.collect),
            Some("application/x-ndjson"),
            body.to_string(),
        )
        .await
    }

    /// (responses, answers, events) in the store.
    pub fn counts(&self) -> (u64, u64, u64) {
        let c = self.state.store.reader().unwrap().counts().unwrap();
        (c.responses, c.answers, c.events)
    }
}
