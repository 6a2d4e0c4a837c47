//! Who may call a route, and how often.
//!
//! - **Keys**: a request names its key in `Authorization: Bearer cxk_…` (or `X-Api-Key`). The
//!   server holds the SHA-256 of every active key in memory ([`KeyRing`]) and reloads them
//!   from the store every second, so `cxray key revoke` takes effect within a second without
//!   a restart. Each route asks for one scope; a key without it is refused (403).
//! - **Rate limits**: a token bucket per key on the API, and per client address on public
//!   routes ([`RateLimiter`]): `rate` requests per second on average, bursts of `burst`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use cxray_store::{ApiKey, Scope, key_digest, key_prefix};

use crate::error::ApiError;

/// The active keys by digest.
#[derive(Default)]
pub struct KeyRing {
    keys: RwLock<HashMap<[u8; 32], ApiKey>>,
}

impl KeyRing {
    /// Replaces the keys with those read from the store.
    pub fn replace(&self, keys: Vec<(ApiKey, [u8; 32])>) {
        let map = keys.into_iter().map(|(k, d)| (d, k)).collect();
        *self.keys.write().expect("key ring lock") = map;
    }

    /// The key a request presents, checked for `scope`.
    pub fn authorize(&self, headers: &HeaderMap, scope: Scope) -> Result<ApiKey, ApiError> {
        let presented = presented_key(headers).ok_or_else(|| {
            ApiError::Unauthenticated(format!(
                "this route needs an API key with the {} scope: send it as \
                 'Authorization: Bearer cxk_…' (make one with `cxray key add`)",
                scope.name()
            ))
        })?;
        let digest = key_digest(presented);
        let key = self
            .keys
            .read()
            .expect("key ring lock")
            .get(&digest)
            .cloned()
            .ok_or_else(|| {
                ApiError::Unauthenticated(match key_prefix(presented) {
                    Some(p) => format!("the key {p}… is unknown or revoked"),
                    None => "the API key is not a cxray key (cxk_…)".into(),
                })
            })?;
        if !key.scopes.contains(&scope) {
            return Err(ApiError::Forbidden(format!(
                "the key {} ({}) lacks the {} scope this route needs",
                key.prefix,
                key.name,
                scope.name()
            )));
        }
        Ok(key)
    }

    pub fn len(&self) -> usize {
        self.keys.read().expect("key ring lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The key in `Authorization: Bearer …` or `X-Api-Key`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Requests per second allowed on average, and in a burst.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

/// Who a bucket belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Client {
    Key(String),
    Address(IpAddr),
}

impl Client {
    /// IPv6 clients by their /64 (one subscriber's network: rotating the host part would
    /// otherwise give a fresh budget per address).
    fn grouped(self) -> Client {
        match self {
            Client::Address(IpAddr::V6(a)) => {
                let s = a.segments();
                Client::Address(IpAddr::V6(std::net::Ipv6Addr::new(
                    s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                )))
            }
            other => other,
        }
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets per client.
pub struct RateLimiter {
    rate: Rate,
    buckets: Mutex<Buckets>,
}

struct Buckets {
    map: HashMap<Client, Bucket>,
    /// When idle buckets were last dropped.
    swept: Instant,
    /// Shared by new clients while the map is full (a flood of addresses shares one budget
    /// instead of growing the map without bound).
    overflow: Bucket,
}

/// Buckets kept; beyond, idle ones are dropped (a full bucket is the same as none), at most
/// once a second.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    pub fn new(rate: Rate) -> RateLimiter {
        let now = Instant::now();
        RateLimiter {
            rate,
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                swept: now,
                overflow: Bucket {
                    tokens: rate.burst,
                    last: now,
                },
            }),
        }
    }

    /// Takes one token of `client`'s bucket, or says how long until there is one.
    pub fn check(&self, client: Client) -> Result<(), ApiError> {
        self.check_at(client, Instant::now())
    }

    fn check_at(&self, client: Client, now: Instant) -> Result<(), ApiError> {
        let Rate { per_second, burst } = self.rate;
        let client = client.grouped();
        let mut guard = self.buckets.lock().expect("rate limiter lock");
        let buckets = &mut *guard;
        if buckets.map.len() >= MAX_BUCKETS
            && now.duration_since(buckets.swept) >= Duration::from_secs(1)
        {
            let full = Duration::from_secs_f64(burst / per_second.max(1e-9));
            buckets.map.retain(|_, b| now.duration_since(b.last) < full);
            buckets.swept = now;
        }
        let b = if buckets.map.len() >= MAX_BUCKETS && !buckets.map.contains_key(&client) {
            &mut buckets.overflow
        } else {
            buckets.map.entry(client).or_insert(Bucket {
                tokens: burst,
                last: now,
            })
        };
        let refill = now.duration_since(b.last).as_secs_f64() * per_second;
        b.tokens = (b.tokens + refill).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - b.tokens) / per_second.max(1e-9);
            Err(ApiError::TooManyRequests {
                retry_after: wait.ceil().max(1.0) as u64,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let limiter = RateLimiter::new(Rate {
            per_second: 2.0,
            burst: 3.0,
        });
        let t0 = Instant::now();
        let ip = Client::Address("127.0.0.1".parse().unwrap());
        for _ in 0..3 {
            assert!(limiter.check_at(ip.clone(), t0).is_ok());
        }
        match limiter.check_at(ip.clone(), t0) {
            Err(ApiError::TooManyRequests { retry_after }) => assert_eq!(retry_after, 1),
            other => panic!("{other:?}"),
        }
        // Another client has its own bucket; IPv6 addresses of one /64 share theirs.
        assert!(limiter.check_at(Client::Key("cxk_1".into()), t0).is_ok());
        for host in 1..=3 {
            let a: IpAddr = format!("2001:db8:1:2::{host}").parse().unwrap();
            assert!(limiter.check_at(Client::Address(a), t0).is_ok());
        }
        let next: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert!(limiter.check_at(Client::Address(next), t0).is_err());
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limiter.check_at(Client::Address(other), t0).is_ok());
        // Half a second refills one token at 2 per second, not two.
        let later = t0 + Duration::from_millis(500);
        assert!(limiter.check_at(ip.clone(), later).is_ok());
        assert!(limiter.check_at(ip, later).is_err());
    }

    #[test]
    fn keys_are_read_from_either_header() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_key(&h), None);
        h.insert("x-api-key", "cxk_1".parse().unwrap());
        assert_eq!(presented_key(&h), Some("cxk_1"));
        h.insert("authorization", "bearer  cxk_2 ".parse().unwrap());
        assert_eq!(presented_key(&h), Some("cxk_2"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(presented_key(&h), None);
    }
}
