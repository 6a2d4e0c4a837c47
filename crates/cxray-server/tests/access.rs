//! Every route against every kind of caller (table-driven from the route table itself, so a
//! new route is checked without editing this test), and the OpenAPI document against the
//! routes.

mod common;

use axum::http::StatusCode;
use common::TestServer;
use cxray_store::Scope;

#[tokio::test]
async fn each_scope_is_refused_on_every_route_outside_it() {
    // Failed keys spend the address's budget of public requests: room for the whole table.
    let s = TestServer::with_limits(cxray_server::Limits {
        public: cxray_server::Rate {
            per_second: 1e6,
            burst: 1e6,
        },
        ..Default::default()
    });
    let callers: Vec<(&str, Option<String>, Option<Scope>)> = vec![
        ("no key", None, None),
        (
            "a key that is not one",
            Some("cxk_00000000_nope".into()),
            None,
        ),
        ("something else", Some("hello".into()), None),
        ("a revoked key", Some(s.revoked.clone()), None),
        ("collect", Some(s.collect.clone()), Some(Scope::Collect)),
        ("read", Some(s.read.clone()), Some(Scope::Read)),
        ("admin", Some(s.admin.clone()), Some(Scope::Admin)),
    ];
    let mut checked = 0;
    for route in cxray_server::routes() {
        let d = route.doc;
        for (who, key, scope) in &callers {
            let a = s
                .call(
                    d.method.clone(),
                    d.path,
                    key.as_deref(),
                    Some("application/json"),
                    "{}",
                )
                .await;
            let expected: &[StatusCode] = match (d.scope, scope, key) {
                // Public routes answer anyone.
                (None, _, _) => &[],
                (Some(_), None, _) => &[StatusCode::UNAUTHORIZED],
                (Some(need), Some(has), _) if need != *has => &[StatusCode::FORBIDDEN],
                _ => &[],
            };
            if expected.is_empty() {
                assert!(
                    a.status != StatusCode::UNAUTHORIZED && a.status != StatusCode::FORBIDDEN,
                    "{} {} with {who}: {} {}",
                    d.method,
                    d.path,
                    a.status,
                    a.text
                );
            } else {
                assert!(
                    expected.contains(&a.status),
                    "{} {} with {who}: {} {}",
                    d.method,
                    d.path,
                    a.status,
                    a.text
                );
                assert!(a.body["message"].is_string());
                if a.status == StatusCode::UNAUTHORIZED {
                    assert!(a.headers.contains_key("www-authenticate"));
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 9 * callers.len());
    // Nothing was stored by any refused (or empty) request.
    assert_eq!(s.counts(), (0, 0, 0));
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_with_its_scope() {
    let s = TestServer::new();
    let a = s
        .call(axum::http::Method::GET, "/api/openapi.json", None, None, "")
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let doc = a.body;
    assert_eq!(doc["openapi"], "3.1.0");
    let routes = cxray_server::routes();
    let mut operations = 0;
    for path in doc["paths"].as_object().unwrap().values() {
        operations += path.as_object().unwrap().len();
    }
    assert_eq!(operations, routes.len(), "one operation per route");
    for route in routes {
        let d = route.doc;
        let op = &doc["paths"][d.path][d.method.as_str().to_lowercase()];
        assert!(op.is_object(), "{} {} missing", d.method, d.path);
        match d.scope {
            Some(scope) => {
                assert_eq!(op["x-cxray-scope"], scope.name());
                assert_eq!(op["security"][0]["apiKey"], serde_json::json!([]));
            }
            None => assert_eq!(op["security"], serde_json::json!([])),
        }
        for status in d.statuses {
            assert!(op["responses"][status.to_string()].is_object());
        }
        // Every documented route exists: with the right key it is not a 404 or 405.
        let key = match d.scope {
            Some(Scope::Collect) => Some(s.collect.as_str()),
            Some(Scope::Read) => Some(s.read.as_str()),
            Some(Scope::Admin) => Some(s.admin.as_str()),
            None => None,
        };
        let r = s.call(d.method.clone(), d.path, key, None, "").await;
        assert!(
            !r.text.contains("no such route"),
            "{} {} is documented but not routed: {}",
            d.method,
            d.path,
            r.text
        );
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED);
        if r.status == StatusCode::NOT_FOUND && !d.path.contains('{') {
            // The analyses of an empty store say so, as their own 404.
            assert!(r.text.contains("nothing to analyse yet"), "{}", r.text);
        }
    }
}
