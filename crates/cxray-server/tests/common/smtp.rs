//! A mail server for tests: SMTP on 127.0.0.1 (a port of its own), no TLS, that keeps what it
//! receives and answers each recipient as the test scripts (a 451 for a few attempts, a 550).
//! Its threads end with the test process; a connection idle for 10 s is dropped.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;

/// A message received.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers, blank line, body), dot-stuffing undone.
    pub data: String,
}

impl Mail {
    /// The value of a header (the first of the name, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut()
                && line.starts_with([' ', '\t'])
            {
                v.push_str(line.trim_start());
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((n, v)) = line.split_once(':')
                && n.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_string());
            }
        }
        value
    }

    /// The decoded body of the part with `content_type` (base64 parts).
    pub fn part(&self, content_type: &str) -> Option<String> {
        for part in self.data.split("\r\n--") {
            let Some((head, body)) = part.split_once("\r\n\r\n") else {
                continue;
            };
            let head = head.to_ascii_lowercase();
            if !head.contains(&format!("content-type: {content_type}")) {
                continue;
            }
            let b64: String = body
                .lines()
                .take_while(|l| !l.starts_with("--"))
                .collect::<Vec<_>>()
                .concat();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()?;
            return String::from_utf8(bytes).ok();
        }
        None
    }
}

/// The running sink.
#[derive(Clone)]
pub struct Sink {
    pub port: u16,
    pub received: Arc<Mutex<Vec<Mail>>>,
    /// Replies to `RCPT TO` per recipient, used up in order (then 250).
    pub script: Arc<Mutex<HashMap<String, VecDeque<u16>>>>,
}

impl Sink {
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let sink = Sink {
            port: listener.local_addr().unwrap().port(),
            received: Default::default(),
            script: Default::default(),
        };
        let s = sink.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = s.session(conn);
                });
            }
        });
        sink
    }

    /// Answers `recipient` with these codes at its next RCPT commands.
    pub fn answer(&self, recipient: &str, codes: &[u16]) {
        self.script
            .lock()
            .unwrap()
            .insert(recipient.to_string(), codes.iter().copied().collect());
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.received.lock().unwrap().clone()
    }

    fn session(&self, conn: TcpStream) -> std::io::Result<()> {
        conn.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut out = conn.try_clone()?;
        let mut lines = BufReader::new(conn);
        let mut say = |text: &str| out.write_all(format!("{text}\r\n").as_bytes());
        say("220 sink.test ESMTP")?;
        let (mut from, mut to) = (String::new(), Vec::new());
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let cmd = line.trim_end().to_string();
            let upper = cmd.to_ascii_uppercase();
            if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                say("250 sink.test")?;
            } else if upper.starts_with("MAIL FROM:") {
                from = address(&cmd[10..]);
                to.clear();
                say("250 OK")?;
            } else if upper.starts_with("RCPT TO:") {
                let rcpt = address(&cmd[8..]);
                let code = self
                    .script
                    .lock()
                    .unwrap()
                    .get_mut(&rcpt)
                    .and_then(VecDeque::pop_front)
                    .unwrap_or(250);
                match code {
                    250 => {
                        to.push(rcpt);
                        say("250 OK")?
                    }
                    451 => say("451 4.3.0 try again later")?,
                    c => say(&format!("{c} 5.1.1 no such mailbox"))?,
                }
            } else if upper == "DATA" {
                if to.is_empty() {
                    say("554 no valid recipients")?;
                    continue;
                }
                say("354 end with .")?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                self.received.lock().unwrap().push(Mail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data,
                });
                say("250 queued")?;
            } else if upper == "QUIT" {
                say("221 bye")?;
                return Ok(());
            } else if upper == "RSET" || upper == "NOOP" {
                to.clear();
                say("250 OK")?;
            } else {
                say("502 not implemented")?;
            }
        }
    }
}

fn address(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or("")
        .to_string()
}
