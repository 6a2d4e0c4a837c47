//! The team of `cxray serve`'s web app: members with a role, their passwords and their
//! sessions.
//!
//! - **Passwords** are kept as argon2id PHC strings (salt and parameters inside; OWASP's
//!   minimum of 19 MiB, 2 passes), never in clear. A login with an unknown name still pays for
//!   one hash, so the time of an answer does not tell which names exist.
//! - **Lockout**: [`MAX_FAILURES`] wrong passwords in a row for a name from one client address
//!   lock that name out from that address for [`LOCKOUT_MINUTES`]; while locked, no password
//!   is even checked. Unknown names are counted and locked alike (a lockout tells nothing about
//!   who exists), and a guesser elsewhere cannot lock a member out of their own desk
//!   (`cxray user unlock` lifts a lockout). Guessing from many addresses meets the server's
//!   rate limits.
//! - **Sessions** are 32 random bytes shown once, in the cookie; the store keeps their SHA-256
//!   (as API keys), with the session's CSRF token, and ends them after [`SESSION_IDLE_HOURS`]
//!   without use or [`SESSION_MAX_DAYS`] in all. A login always makes a new session (a session
//!   id planted before the login is never promoted: no fixation).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rusqlite::{OptionalExtension, params};

use crate::keys::{hex, random};
use crate::{Keys, StoreError, key_digest};

/// Wrong passwords in a row before a member is locked out.
pub const MAX_FAILURES: i64 = 5;
/// How long a lockout lasts.
pub const LOCKOUT_MINUTES: i64 = 15;
/// A session unused this long ends.
pub const SESSION_IDLE_HOURS: i64 = 12;
/// A session ends this long after its login, used or not.
pub const SESSION_MAX_DAYS: i64 = 7;
/// Shortest password accepted (NIST SP 800-63B asks for at least 8; we ask for more).
pub const MIN_PASSWORD_CHARS: usize = 10;

/// What a member may do in the web app. Each page and form asks for one role; a higher role
/// may do everything a lower one may.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees the dashboard, the answers and the cases.
    Viewer,
    /// Also works the cases (takes, contacts, notes, resolves) and explores.
    Analyst,
    /// Also manages the team, the surveys and the triggers.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Analyst, Role::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(s.trim()))
    }
}

/// A member as listed (never the password).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Member {
    pub name: String,
    pub role: Role,
    /// µs since the Unix epoch.
    pub created_at: i64,
    /// Locked out (from some address) until then (µs), after repeated wrong passwords.
    pub locked_until: Option<i64>,
}

/// The outcome of a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// The password is right: a new session (its secret goes in the cookie, once).
    Session(NewSession),
    /// Unknown name or wrong password (the two are not told apart).
    Refused,
    /// Too many wrong passwords from this address: no password is checked until then (µs).
    Locked { until: i64 },
}

/// The first step of a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginCheck {
    /// Too many wrong passwords from this address: nothing is checked until then (µs).
    Locked { until: i64 },
    /// Verify the password ([`PendingLogin::verify`], slow on purpose), then finish.
    Verify(PendingLogin),
}

/// A login between its check and its end: the name as given and, for a member, their hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    name: String,
    member: Option<(String, Role, String)>,
}

impl PendingLogin {
    /// Whether `password` is the member's (argon2id; an unknown name costs the same time and
    /// is never right).
    pub fn verify(&self, password: &str) -> bool {
        match &self.member {
            Some((_, _, phc)) => verify_password(password, phc),
            None => {
                let _ = verify_password(password, dummy_hash());
                false
            }
        }
    }
}

/// A session just made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The cookie's value: 64 hex digits.
    pub secret: String,
    pub session: Session,
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub member: String,
    pub role: Role,
    /// The token every form of this session carries.
    pub csrf: String,
    pub expires_at: i64,
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::Read(e.to_string())
}

fn random_hex(n: usize) -> Result<String, StoreError> {
    Ok(hex(&random(n)?))
}

/// The argon2id PHC string of `password`, with a fresh salt.
fn hash_password(password: &str) -> Result<String, StoreError> {
    let salt = SaltString::encode_b64(&random(16)?).map_err(|e| StoreError::Read(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Read(format!("hashing the password: {e}")))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A member's name: 1 to 64 characters, letters, digits and `.-_@`.
pub fn member_name_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
    (!ok).then(|| {
        format!(
            "{name:?} is not a member name: 1 to 64 letters, digits and . - _ @ (an email works)"
        )
    })
}

/// A new random password (24 hex digits: 96 bits), for a member added without one.
pub fn new_password() -> Result<String, StoreError> {
    random_hex(12)
}

/// Why a password is refused, if it is.
pub fn password_problem(password: &str) -> Option<String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Some(format!(
            "a password has at least {MIN_PASSWORD_CHARS} characters (this one has {n})"
        ));
    }
    if n > 256 {
        return Some("a password has at most 256 characters".into());
    }
    None
}

impl Keys {
    /// Adds a member, or with `replace` sets the role and password of an existing one (and
    /// ends their sessions). Names are compared without case.
    pub fn add_member(
        &self,
        name: &str,
        role: Role,
        password: &str,
        replace: bool,
    ) -> Result<Member, StoreError> {
        if let Some(p) = member_name_problem(name).or_else(|| password_problem(password)) {
            return Err(StoreError::Read(p));
        }
        let phc = hash_password(password)?;
        let now = crate::now_micros();
        let sql = if replace {
            "INSERT INTO members (name, role, password, created_at, failures)
             VALUES (?1, ?2, ?3, ?4, 0)
             ON CONFLICT (name) DO UPDATE SET role = excluded.role,
               password = excluded.password"
        } else {
            "INSERT INTO members (name, role, password, created_at, failures)
             VALUES (?1, ?2, ?3, ?4, 0) ON CONFLICT DO NOTHING"
        };
        let n = self
            .conn
            .execute(sql, params![name, role.name(), phc, now])
            .map_err(err)?;
        if n == 0 {
            return Err(StoreError::Read(format!(
                "there is a member {name:?} already (to change their role or password, add \
                 them again with --replace)"
            )));
        }
        if replace {
            self.conn
                .execute("DELETE FROM sessions WHERE member = ?1", [name])
                .map_err(err)?;
            self.unlock_member(name)?;
        }
        self.member(name)?
            .ok_or_else(|| StoreError::Read(format!("member {name:?} vanished")))
    }

    /// Removes a member and ends their sessions; false when there is none.
    pub fn remove_member(&self, name: &str) -> Result<bool, StoreError> {
        self.conn
            .execute("DELETE FROM sessions WHERE member = ?1", [name])
            .map_err(err)?;
        self.conn
            .execute("DELETE FROM members WHERE name = ?1", [name])
            .map(|n| n > 0)
            .map_err(err)
    }

    /// A member by name (without case).
    pub fn member(&self, name: &str) -> Result<Option<Member>, StoreError> {
        self.conn
            .query_row(
                "SELECT name, role, created_at,
                    (SELECT max(locked_until) FROM login_failures f WHERE f.name = m.name)
                 FROM members m WHERE name = ?1",
                [name],
                member_row,
            )
            .optional()
            .map_err(err)
    }

    /// Every member, by name.
    pub fn members(&self) -> Result<Vec<Member>, StoreError> {
        let mut s = self
            .conn
            .prepare(
                "SELECT name, role, created_at,
                    (SELECT max(locked_until) FROM login_failures f WHERE f.name = m.name)
                 FROM members m ORDER BY name",
            )
            .map_err(err)?;
        let rows = s.query_map([], member_row).map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// Checks a member's password from `address` at `now` (µs) and, when it is right, opens
    /// a new session: [`Keys::login_check`], the hash checked, [`Keys::login_finish`] in one
    /// call. A server runs the three apart, so that the slow hash holds no connection.
    pub fn login(
        &self,
        name: &str,
        password: &str,
        address: &str,
        now: i64,
    ) -> Result<Login, StoreError> {
        match self.login_check(name, address, now)? {
            LoginCheck::Locked { until } => Ok(Login::Locked { until }),
            LoginCheck::Verify(pending) => {
                let ok = pending.verify(password);
                self.login_finish(&pending, address, ok, now)
            }
        }
    }

    /// The first step of a login: whether `name` is locked out from `address` (for unknown
    /// names as for members: a lockout tells nothing about who exists), else what to verify.
    pub fn login_check(
        &self,
        name: &str,
        address: &str,
        now: i64,
    ) -> Result<LoginCheck, StoreError> {
        // A name no member can have is refused without being counted (nothing is stored for
        // it): it cannot be anyone's, and storing any text would let the table grow.
        if member_name_problem(name).is_some() {
            return Ok(LoginCheck::Verify(PendingLogin {
                name: String::new(),
                member: None,
            }));
        }
        if let Some(until) = self.locked_until(name, address, now)? {
            return Ok(LoginCheck::Locked { until });
        }
        let member: Option<(String, String, String)> = self
            .conn
            .query_row(
                "SELECT name, role, password FROM members WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(err)?;
        Ok(LoginCheck::Verify(PendingLogin {
            name: name.to_string(),
            member: member.and_then(|(n, r, p)| Role::parse(&r).map(|r| (n, r, p))),
        }))
    }

    /// The last step of a login: `verified` (the password matched) opens a session and
    /// clears the failures of the name from `address`; a failure is counted, and the
    /// [`MAX_FAILURES`]-th in a row locks the name out from that address.
    pub fn login_finish(
        &self,
        pending: &PendingLogin,
        address: &str,
        verified: bool,
        now: i64,
    ) -> Result<Login, StoreError> {
        // Locked meanwhile (attempts checked at the same time, the fifth wrong one locking):
        // not even the right password opens a session now.
        if let Some(until) = self.locked_until(&pending.name, address, now)? {
            return Ok(Login::Locked { until });
        }
        let member = pending.member.as_ref().filter(|_| verified);
        let Some((name, role, _)) = member else {
            if pending.name.is_empty() {
                return Ok(Login::Refused);
            }
            let failures: i64 = self
                .conn
                .query_row(
                    "INSERT INTO login_failures (name, address, failures, last_at)
                     VALUES (?1, ?2, 1, ?3)
                     ON CONFLICT (name, address) DO UPDATE SET
                       failures = CASE WHEN locked_until IS NOT NULL AND locked_until <= ?3
                         THEN 1 ELSE failures + 1 END,
                       locked_until = CASE WHEN locked_until <= ?3 THEN NULL
                         ELSE locked_until END,
                       last_at = ?3
                     RETURNING failures",
                    params![pending.name, address, now],
                    |r| r.get(0),
                )
                .map_err(err)?;
            self.drop_old_failures(now)?;
            if failures >= MAX_FAILURES {
                let until = now + LOCKOUT_MINUTES * 60_000_000;
                self.conn
                    .execute(
                        "UPDATE login_failures SET locked_until = ?1
                         WHERE name = ?2 AND address = ?3",
                        params![until, pending.name, address],
                    )
                    .map_err(err)?;
                return Ok(Login::Locked { until });
            }
            return Ok(Login::Refused);
        };
        self.conn
            .execute(
                "DELETE FROM login_failures WHERE name = ?1 AND address = ?2",
                params![name, address],
            )
            .map_err(err)?;
        // Sessions past their time, and failures a day old, are dropped as sessions are made.
        self.conn
            .execute(
                "DELETE FROM sessions WHERE expires_at <= ?1 OR seen_at <= ?2",
                params![now, now - SESSION_IDLE_HOURS * 3_600_000_000],
            )
            .map_err(err)?;
        self.drop_old_failures(now)?;
        let secret = random_hex(32)?;
        let session = Session {
            member: name.clone(),
            role: *role,
            csrf: random_hex(32)?,
            expires_at: now + SESSION_MAX_DAYS * 86_400_000_000,
        };
        self.conn
            .execute(
                "INSERT INTO sessions (digest, member, csrf, created_at, seen_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                params![
                    &key_digest(&secret)[..],
                    session.member,
                    session.csrf,
                    now,
                    session.expires_at
                ],
            )
            .map_err(err)?;
        Ok(Login::Session(NewSession { secret, session }))
    }

    /// Until when `name` is locked out from `address` at `now`, if it is.
    fn locked_until(&self, name: &str, address: &str, now: i64) -> Result<Option<i64>, StoreError> {
        let until: Option<i64> = self
            .conn
            .query_row(
                "SELECT locked_until FROM login_failures WHERE name = ?1 AND address = ?2",
                params![name, address],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?
            .flatten();
        Ok(until.filter(|u| *u > now))
    }

    /// Drops failures a day old that lock nothing (the table does not grow without end).
    fn drop_old_failures(&self, now: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "DELETE FROM login_failures WHERE last_at <= ?1
                 AND (locked_until IS NULL OR locked_until <= ?2)",
                params![now - 86_400_000_000, now],
            )
            .map_err(err)?;
        Ok(())
    }

    /// Lifts every lockout of a member; false when none was in force.
    pub fn unlock_member(&self, name: &str) -> Result<bool, StoreError> {
        self.conn
            .execute("DELETE FROM login_failures WHERE name = ?1", [name])
            .map(|n| n > 0)
            .map_err(err)
    }

    /// The live session of a cookie's secret at `now` (µs), marked as used; none when it is
    /// unknown, ended or past its time.
    pub fn session(&self, secret: &str, now: i64) -> Result<Option<Session>, StoreError> {
        let digest = key_digest(secret);
        let found: Option<(String, String, String, i64, i64)> = self
            .conn
            .query_row(
                "SELECT s.member, m.role, s.csrf, s.seen_at, s.expires_at
                 FROM sessions s JOIN members m ON m.name = s.member WHERE s.digest = ?1",
                [&digest[..]],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(err)?;
        let Some((member, role, csrf, seen_at, expires_at)) = found else {
            return Ok(None);
        };
        if expires_at <= now || seen_at <= now - SESSION_IDLE_HOURS * 3_600_000_000 {
            self.end_session(secret)?;
            return Ok(None);
        }
        // Marked at most once a minute: a page's requests do not each write.
        if now - seen_at > 60_000_000 {
            self.conn
                .execute(
                    "UPDATE sessions SET seen_at = ?1 WHERE digest = ?2",
                    params![now, &digest[..]],
                )
                .map_err(err)?;
        }
        Ok(Role::parse(&role).map(|role| Session {
            member,
            role,
            csrf,
            expires_at,
        }))
    }

    /// Ends the session of a cookie's secret (logout).
    pub fn end_session(&self, secret: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "DELETE FROM sessions WHERE digest = ?1",
                [&key_digest(secret)[..]],
            )
            .map_err(err)?;
        Ok(())
    }
}

fn member_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Member> {
    let role: String = r.get(1)?;
    Ok(Member {
        name: r.get(0)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        created_at: r.get(2)?,
        locked_until: r.get(3)?,
    })
}

/// An argon2id hash of a random password nobody has, verified when a name is unknown.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let unguessable = random_hex(16).unwrap_or_else(|_| "x".repeat(32));
        hash_password(&unguessable).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (tempfile::TempDir, Keys) {
        let dir = tempfile::tempdir().unwrap();
        let k = Keys::open(dir.path().join("t.db")).unwrap();
        (dir, k)
    }

    #[test]
    fn a_password_is_kept_as_an_argon2id_hash_and_checked() {
        let (dir, k) = keys();
        let m = k
            .add_member("ana@example.com", Role::Analyst, "correct horse", false)
            .unwrap();
        assert_eq!(m.role, Role::Analyst);
        let phc: String = k
            .conn
            .query_row("SELECT password FROM members", [], |r| r.get(0))
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        drop(k);
        for f in ["t.db", "t.db-wal"] {
            let bytes = std::fs::read(dir.path().join(f)).unwrap_or_default();
            assert!(!bytes.windows(13).any(|w| w == b"correct horse"));
        }
        let k = Keys::open(dir.path().join("t.db")).unwrap();
        let now = 1_800_000_000_000_000;
        let Login::Session(s) = k
            .login("ANA@example.com", "correct horse", "10.0.0.1", now)
            .unwrap()
        else {
            panic!("the right password opens a session")
        };
        assert_eq!(s.secret.len(), 64);
        assert_eq!(s.session.member, "ana@example.com");
        let live = k.session(&s.secret, now + 1).unwrap().unwrap();
        assert_eq!(live.csrf, s.session.csrf);
        assert_eq!(live.role, Role::Analyst);
        // Two logins are two sessions with their own tokens.
        let Login::Session(t) = k
            .login("ana@example.com", "correct horse", "10.0.0.1", now)
            .unwrap()
        else {
            panic!()
        };
        assert_ne!(t.secret, s.secret);
        assert_ne!(t.session.csrf, s.session.csrf);
        k.end_session(&s.secret).unwrap();
        assert_eq!(k.session(&s.secret, now).unwrap(), None);
        assert!(k.session(&t.secret, now).unwrap().is_some());
        assert_eq!(
            k.login("nobody", "correct horse", "10.0.0.1", now).unwrap(),
            Login::Refused
        );
        assert_eq!(k.session("", now).unwrap(), None);
    }

    #[test]
    fn five_wrong_passwords_lock_a_member_out_for_fifteen_minutes() {
        let (_d, k) = keys();
        k.add_member("bo", Role::Viewer, "a long passphrase", false)
            .unwrap();
        let now = 1_800_000_000_000_000;
        for _ in 0..MAX_FAILURES - 1 {
            assert_eq!(
                k.login("bo", "wrong guess!", "10.0.0.1", now).unwrap(),
                Login::Refused
            );
        }
        let until = now + LOCKOUT_MINUTES * 60_000_000;
        assert_eq!(
            k.login("bo", "wrong guess!", "10.0.0.1", now).unwrap(),
            Login::Locked { until }
        );
        // Locked: even the right password is not checked.
        assert_eq!(
            k.login("bo", "a long passphrase", "10.0.0.1", until - 1)
                .unwrap(),
            Login::Locked { until }
        );
        assert!(matches!(
            k.login("bo", "a long passphrase", "10.0.0.1", until)
                .unwrap(),
            Login::Session(_)
        ));
        // A success resets the count.
        for _ in 0..MAX_FAILURES - 1 {
            k.login("bo", "wrong guess!", "10.0.0.1", until).unwrap();
        }
        assert!(matches!(
            k.login("bo", "a long passphrase", "10.0.0.1", until)
                .unwrap(),
            Login::Session(_)
        ));
        assert_eq!(
            k.login("bo", "wrong guess!", "10.0.0.1", until).unwrap(),
            Login::Refused
        );
        // A lockout holds for its address only: the member's own desk still logs in.
        for _ in 0..MAX_FAILURES {
            k.login("bo", "wrong guess!", "203.0.113.9", until).unwrap();
        }
        assert!(matches!(
            k.login("bo", "a long passphrase", "203.0.113.9", until)
                .unwrap(),
            Login::Locked { .. }
        ));
        assert!(k.member("bo").unwrap().unwrap().locked_until.is_some());
        assert!(matches!(
            k.login("bo", "a long passphrase", "10.0.0.1", until)
                .unwrap(),
            Login::Session(_)
        ));
        // An unknown name is counted and locked alike: a lockout tells nothing.
        for _ in 0..MAX_FAILURES - 1 {
            assert_eq!(
                k.login("nobody", "x", "203.0.113.9", until).unwrap(),
                Login::Refused
            );
        }
        assert!(matches!(
            k.login("nobody", "x", "203.0.113.9", until).unwrap(),
            Login::Locked { .. }
        ));
        // A password checked while the name got locked opens nothing.
        let Ok(LoginCheck::Verify(pending)) = k.login_check("bo", "198.51.100.7", until) else {
            panic!()
        };
        for _ in 0..MAX_FAILURES {
            k.login("bo", "wrong guess!", "198.51.100.7", until)
                .unwrap();
        }
        assert!(pending.verify("a long passphrase"));
        assert!(matches!(
            k.login_finish(&pending, "198.51.100.7", true, until)
                .unwrap(),
            Login::Locked { .. }
        ));
        // Names nobody can have are refused and not stored.
        let rows = |k: &Keys| -> i64 {
            k.conn
                .query_row("SELECT count(*) FROM login_failures", [], |r| r.get(0))
                .unwrap()
        };
        let before = rows(&k);
        assert_eq!(
            k.login(&"x".repeat(5000), "x", "203.0.113.9", until)
                .unwrap(),
            Login::Refused
        );
        assert_eq!(rows(&k), before);
        // Unlocked by an admin.
        assert!(k.unlock_member("bo").unwrap());
        assert!(matches!(
            k.login("bo", "a long passphrase", "203.0.113.9", until)
                .unwrap(),
            Login::Session(_)
        ));
    }

    #[test]
    fn sessions_end_when_idle_too_long_or_too_old_and_when_the_member_changes() {
        let (_d, k) = keys();
        k.add_member("cy", Role::Admin, "another passphrase", false)
            .unwrap();
        let t0 = 1_800_000_000_000_000;
        let hour = 3_600_000_000;
        let open = |at| match k.login("cy", "another passphrase", "10.0.0.1", at).unwrap() {
            Login::Session(s) => s.secret,
            other => panic!("{other:?}"),
        };
        let s = open(t0);
        assert!(
            k.session(&s, t0 + SESSION_IDLE_HOURS * hour - 1)
                .unwrap()
                .is_some()
        );
        // Used just now: idle again counts from here.
        assert!(
            k.session(&s, t0 + 2 * SESSION_IDLE_HOURS * hour - 2)
                .unwrap()
                .is_some()
        );
        assert!(
            k.session(&s, t0 + 4 * SESSION_IDLE_HOURS * hour)
                .unwrap()
                .is_none()
        );
        // Used every few hours, it still ends after SESSION_MAX_DAYS.
        let s = open(t0);
        let mut at = t0;
        while at < t0 + SESSION_MAX_DAYS * 24 * hour - 6 * hour {
            at += 6 * hour;
            assert!(k.session(&s, at).unwrap().is_some(), "{at}");
        }
        assert!(
            k.session(&s, t0 + SESSION_MAX_DAYS * 24 * hour)
                .unwrap()
                .is_none()
        );
        // A new password or role ends the member's sessions; so does removing them.
        let s = open(t0);
        k.add_member("cy", Role::Viewer, "a third passphrase", true)
            .unwrap();
        assert!(k.session(&s, t0).unwrap().is_none());
        assert!(
            k.add_member("cy", Role::Viewer, "a third passphrase", false)
                .is_err()
        );
        let Login::Session(n) = k.login("cy", "a third passphrase", "10.0.0.1", t0).unwrap() else {
            panic!()
        };
        assert_eq!(n.session.role, Role::Viewer);
        assert!(k.remove_member("cy").unwrap());
        assert!(k.session(&n.secret, t0).unwrap().is_none());
        assert!(!k.remove_member("cy").unwrap());
    }

    #[test]
    fn names_and_passwords_are_checked() {
        let (_d, k) = keys();
        for (name, password) in [
            ("", "long enough pass"),
            ("a b", "long enough pass"),
            ("<script>", "long enough pass"),
            ("ok", "short"),
            ("ok", &"x".repeat(300)),
        ] {
            assert!(
                k.add_member(name, Role::Viewer, password, false).is_err(),
                "{name}"
            );
        }
        assert!(k.members().unwrap().is_empty());
        assert!(PasswordHash::new(dummy_hash()).is_ok());
    }
}
