//! API keys: who may collect, read or administer through `cxray serve`.
//!
//! A key is `cxk_<prefix>_<secret>`: 4 random bytes of visible prefix (how a key is named in
//! lists, logs and `cxray key revoke`) and 32 random bytes of secret, from the operating
//! system's generator. The store keeps the prefix and the SHA-256 of the whole key, never the
//! key: it is shown once, when it is made. A slow password hash (argon2) would add nothing
//! here: 256 random bits cannot be guessed, while every API request pays for the hash (the
//! same reasoning as GitHub's and Stripe's tokens); argon2 is for the passwords people choose.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::StoreError;

/// What a key may do. Each route of the server asks for exactly one scope.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send answers and journey events (`POST /api/v1/responses`, `/api/v1/events`).
    Collect,
    /// Read metrics, the report and what was collected.
    Read,
    /// Manage keys and surveys.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Collect, Scope::Read, Scope::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Scope::Collect => "collect",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
    }
}

/// A key as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    /// `cxk_` and 8 hex digits: the visible part of the key.
    pub prefix: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// µs since the Unix epoch.
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A key just made: its record and the key itself, to be shown once.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key: ApiKey,
    pub secret: String,
}

/// SHA-256 of a key, as the store keeps it.
pub fn key_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The prefix of a key (`cxk_` and 8 hex digits), if it is shaped like one.
pub fn key_prefix(secret: &str) -> Option<&str> {
    let prefix = secret.get(..12)?;
    let shaped = prefix.starts_with("cxk_")
        && prefix[4..].bytes().all(|b| b.is_ascii_hexdigit())
        && secret.as_bytes().get(12) == Some(&b'_');
    shaped.then_some(prefix)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` bytes from the operating system's generator.
pub(crate) fn random(n: usize) -> Result<Vec<u8>, StoreError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| StoreError::Read(format!("no random bytes: {e}")))?;
    Ok(b)
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::Read(e.to_string())
}

fn parse_scopes(s: &str) -> Vec<Scope> {
    s.split(',').filter_map(Scope::parse).collect()
}

/// The keys of a store, for `cxray key` (its own connection: keys can be managed while a
/// server writes answers; SQLite serialises the two writers).
pub struct Keys {
    pub(crate) conn: Connection,
}

impl Keys {
    /// Opens the store at `path` (created and migrated if needed) to manage its keys.
    pub fn open(path: impl AsRef<Path>) -> Result<Keys, StoreError> {
        Ok(Keys {
            conn: crate::schema::open_for_writing(path.as_ref())?,
        })
    }

    /// Makes a key named `name` with `scopes` (at least one).
    pub fn add(&self, name: &str, scopes: &[Scope]) -> Result<NewKey, StoreError> {
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(StoreError::Read(
                "a key needs at least one scope: collect, read or admin".into(),
            ));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(StoreError::Read(
                "a key's name is 1 to 100 printable characters".into(),
            ));
        }
        // A prefix already taken (1 in 4 billion per key) is drawn again.
        for _ in 0..8 {
            let prefix = format!("cxk_{}", hex(&random(4)?));
            let secret = format!("{prefix}_{}", hex(&random(32)?));
            let key = ApiKey {
                prefix: prefix.clone(),
                name: name.to_string(),
                scopes: scopes.clone(),
                created_at: crate::now_micros(),
                revoked_at: None,
            };
            let joined: Vec<&str> = scopes.iter().map(|s| s.name()).collect();
            let added = self
                .conn
                .execute(
                    "INSERT INTO api_keys (prefix, digest, name, scopes, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                    params![
                        prefix,
                        &key_digest(&secret)[..],
                        key.name,
                        joined.join(","),
                        key.created_at
                    ],
                )
                .map_err(err)?;
            if added == 1 {
                return Ok(NewKey { key, secret });
            }
        }
        Err(StoreError::Read("could not draw a free key prefix".into()))
    }

    /// The server's secret of `name` (32 random bytes), made on first use and kept in the
    /// store, so that links signed before a restart stay valid. Anyone who can read the store
    /// can sign links: protect the file as the answers in it.
    pub fn secret(&self, name: &str) -> Result<[u8; 32], StoreError> {
        self.conn
            .execute(
                "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![name, random(32)?],
            )
            .map_err(err)?;
        let v: Vec<u8> = self
            .conn
            .query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .map_err(err)?;
        v.try_into()
            .map_err(|_| StoreError::Read(format!("the secret {name:?} is not 32 bytes")))
    }

    /// Saves a survey made through the admin API (its definition as JSON), replacing the one
    /// of the same id.
    pub fn save_survey(&self, id: &str, definition: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO surveys (id, definition, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET definition = excluded.definition,
                   updated_at = excluded.updated_at",
                params![id, definition, crate::now_micros()],
            )
            .map_err(err)?;
        Ok(())
    }

    /// The surveys saved through the admin API: (id, definition as JSON), by id.
    pub fn surveys(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut s = self
            .conn
            .prepare("SELECT id, definition FROM surveys ORDER BY id")
            .map_err(err)?;
        let rows = s
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// Saves a trigger made through the admin API (its definition as JSON), replacing the one
    /// of the same touchpoint and survey.
    pub fn save_trigger(
        &self,
        touchpoint: &str,
        survey: &str,
        definition: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO triggers (touchpoint, survey, definition, updated_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (touchpoint, survey) DO UPDATE SET definition = excluded.definition,
                   updated_at = excluded.updated_at",
                params![touchpoint, survey, definition, crate::now_micros()],
            )
            .map_err(err)?;
        Ok(())
    }

    /// Removes the trigger of a touchpoint and survey made through the admin API; false when
    /// there is none.
    pub fn delete_trigger(&self, touchpoint: &str, survey: &str) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "DELETE FROM triggers WHERE touchpoint = ?1 AND survey = ?2",
                params![touchpoint, survey],
            )
            .map(|n| n > 0)
            .map_err(err)
    }

    /// The triggers saved through the admin API, as JSON, oldest first.
    pub fn triggers(&self) -> Result<Vec<String>, StoreError> {
        let mut s = self
            .conn
            .prepare("SELECT definition FROM triggers ORDER BY updated_at, touchpoint, survey")
            .map_err(err)?;
        let rows = s.query_map([], |r| r.get(0)).map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// Records a personal link as an invitation (the first time its id is seen; making the
    /// link again keeps the first sending): times in µs.
    pub fn record_invitation(&self, invitation: &crate::Invitation) -> Result<(), StoreError> {
        insert_invitation(&self.conn, invitation)
    }

    /// Every key, revoked ones included, oldest first.
    pub fn list(&self) -> Result<Vec<ApiKey>, StoreError> {
        list(&self.conn, false).map(|v| v.into_iter().map(|(k, _)| k).collect())
    }

    /// Revokes the key with `prefix`; false when there is no such key. Revoking twice keeps
    /// the first time.
    pub fn revoke(&self, prefix: &str) -> Result<bool, StoreError> {
        let known: Option<Option<i64>> = self
            .conn
            .query_row(
                "SELECT revoked_at FROM api_keys WHERE prefix = ?1",
                [prefix],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        match known {
            None => Ok(false),
            Some(Some(_)) => Ok(true),
            Some(None) => {
                self.conn
                    .execute(
                        "UPDATE api_keys SET revoked_at = ?1 WHERE prefix = ?2",
                        params![crate::now_micros(), prefix],
                    )
                    .map_err(err)?;
                Ok(true)
            }
        }
    }
}

/// Inserts an invitation unless its id is known (the first sending is kept).
pub(crate) fn insert_invitation(
    conn: &rusqlite::Connection,
    i: &crate::Invitation,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO invitations (invitation_id, survey, customer_id, language, sent_at,
            expires_at, touchpoint) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        params![
            i.invitation_id,
            i.survey,
            i.customer_id,
            i.language,
            i.sent_at,
            i.expires_at,
            i.touchpoint
        ],
    )
    .map_err(err)?;
    Ok(())
}

/// Keys with their digests; only those not revoked with `active_only`.
pub(crate) fn list(
    conn: &Connection,
    active_only: bool,
) -> Result<Vec<(ApiKey, [u8; 32])>, StoreError> {
    let sql = if active_only {
        "SELECT prefix, name, scopes, created_at, revoked_at, digest FROM api_keys
         WHERE revoked_at IS NULL ORDER BY created_at, prefix"
    } else {
        "SELECT prefix, name, scopes, created_at, revoked_at, digest FROM api_keys
         ORDER BY created_at, prefix"
    };
    let mut stmt = conn.prepare(sql).map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            let digest: Vec<u8> = r.get(5)?;
            let mut d = [0u8; 32];
            if digest.len() == 32 {
                d.copy_from_slice(&digest);
            }
            Ok((
                ApiKey {
                    prefix: r.get(0)?,
                    name: r.get(1)?,
                    scopes: parse_scopes(&r.get::<_, String>(2)?),
                    created_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                },
                d,
            ))
        })
        .map_err(err)?;
    rows.collect::<Result<_, _>>().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_shown_once_and_stored_as_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let keys = Keys::open(&path).unwrap();
        let made = keys
            .add("web widget", &[Scope::Read, Scope::Collect, Scope::Read])
            .unwrap();
        assert_eq!(made.key.scopes, vec![Scope::Collect, Scope::Read]);
        assert_eq!(key_prefix(&made.secret), Some(made.key.prefix.as_str()));
        assert_eq!(made.secret.len(), 4 + 8 + 1 + 64);
        // The secret part is nowhere in the file.
        drop(keys);
        let bytes = std::fs::read(&path).unwrap();
        let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
        let secret = &made.secret.as_bytes()[13..];
        for b in [&bytes, &wal] {
            assert!(!b.windows(secret.len()).any(|w| w == secret));
        }
        let keys = Keys::open(&path).unwrap();
        let active = list(&keys.conn, true).unwrap();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].1, key_digest(&made.secret));
        assert!(keys.revoke(&made.key.prefix).unwrap());
        assert!(!keys.revoke("cxk_00000000").unwrap());
        assert!(list(&keys.conn, true).unwrap().is_empty());
        assert!(keys.list().unwrap()[0].revoked_at.is_some());
        assert!(keys.add("x", &[]).is_err());
        // A secret is made once and kept.
        let s = keys.secret("links").unwrap();
        assert_eq!(Keys::open(&path).unwrap().secret("links").unwrap(), s);
        assert_ne!(keys.secret("other").unwrap(), s);
        keys.save_survey("b", "{}").unwrap();
        keys.save_survey("a", "{\"x\": 1}").unwrap();
        keys.save_survey("b", "{\"y\": 2}").unwrap();
        assert_eq!(
            keys.surveys().unwrap(),
            vec![
                ("a".to_string(), "{\"x\": 1}".to_string()),
                ("b".to_string(), "{\"y\": 2}".to_string())
            ]
        );
        assert!(keys.add(" ", &[Scope::Read]).is_err());
    }

    #[test]
    fn prefixes_are_recognised_only_in_keys_shaped_like_ours() {
        assert_eq!(key_prefix("cxk_0a1b2c3d_ff"), Some("cxk_0a1b2c3d"));
        for s in [
            "",
            "cxk_",
            "cxk_0a1b2c3dff",
            "cxk_0a1b2c3g_1",
            "Bearer x",
            "cxk_é1b2c3d_",
        ] {
            assert_eq!(key_prefix(s), None, "{s}");
        }
    }
}
