//! # cxray-demo
//!
//! Writes a realistic, deterministic demo project — a `cxray.toml` and one file per entity
//! (responses with multilingual comments, invitations, customers, tickets, lifecycle events,
//! contact-centre queue, journey events, referrals, social mentions) — with **planted effects**
//! that the analysis must find, and one planted null effect it must not report:
//!
//! | effect | where | what the analysis should show |
//! |---|---|---|
//! | delivery delays | region `North`, from the third-last month | NPS in North drops by ~50 points (70% of its answers 2.6 points lower); detractor comments mention late deliveries |
//! | phone effort | channel `phone` | CES about one point lower (worse) than web and app |
//! | churn linkage | lifecycle | detractors cancel at ~3× the monthly rate of promoters |
//! | non-response | age band `18-34` | invited as often, answers ~4× less often, and is less satisfied: unweighted NPS is biased upwards |
//! | plan | `premium` vs `basic` | premium customers score higher |
//! | key drivers | relationship survey ratings (1-5) | NPS depends most on `delivery`, then `value`, `ordering`, `support`; delivery rates lowest, so it is the first to fix |
//! | failed checkout | journey sessions shortly before an NPS answer | answers whose latest journey step is a `checkout` without purchase score ~2.5 points lower: `checkout` is the worst touchpoint |
//! | **null** | `device` (`ios`/`android`) | no effect on anything: must not appear in highlights |
//!
//! The same seed, size and end date always produce byte-identical files.

mod text;
mod write;

use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};

use write::CsvFile;

/// Settings of a demo project.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub dir: PathBuf,
    pub customers: u64,
    pub months: u32,
    pub seed: u64,
    /// Last day of data.
    pub end: NaiveDate,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            dir: PathBuf::from("cxray-demo"),
            customers: 5000,
            months: 24,
            seed: 42,
            end: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct DemoSummary {
    pub config: PathBuf,
    pub files: Vec<(String, u64)>,
    /// First month of the planted North drop (YYYY-MM).
    pub drop_month: String,
    /// Answers of the checkout survey of the last two weeks, as `cxray serve` would have
    /// collected them (the front end puts them in a store; they are in no file).
    pub collected: Vec<CollectedResponse>,
}

/// A response of the demo's checkout survey (web widget): task completion and a star rating.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectedResponse {
    pub response_id: String,
    pub customer_id: String,
    /// UTC.
    pub submitted_at: NaiveDateTime,
    pub language: &'static str,
    /// The customer's segment columns (region, plan, age band, device).
    pub attributes: Vec<(&'static str, &'static str)>,
    /// (metric, score, comment).
    pub answers: Vec<(&'static str, u8, Option<String>)>,
}

/// The survey, touchpoint and channel of [`CollectedResponse`]s.
pub const COLLECTED_SURVEY: (&str, &str, &str) = ("checkout", "checkout", "web");

/// Checkout answers of the last 14 days up to `end` from 6% of the active customers, from an
/// RNG of their own (the files do not change with them).
fn collected(custs: &[Customer], seed: u64, end: NaiveDate) -> Vec<CollectedResponse> {
    let mut rng = Rng::new(seed ^ 0x00C0_11EC_7ED0);
    let mut out = Vec::new();
    for c in custs.iter().filter(|c| c.active) {
        if !rng.chance(0.06) {
            continue;
        }
        let day = end - Duration::days(rng.below(14) as i64);
        // Whether the purchase went through, and the stars given to the checkout: metrics no
        // file has, so that these answers add to the report without shifting what the files
        // show. A failed checkout gets ~1.6 stars fewer.
        let completed = rng.chance(0.86);
        let mu = if completed { 4.2 } else { 2.6 };
        let stars = (mu + 0.9 * rng.normal()).round().clamp(1.0, 5.0) as u8;
        let category = match stars {
            5 => 1,
            4 => 0,
            _ => -1,
        };
        let comment = rng.chance(0.2).then(|| {
            let theme = text::pick_theme(&mut rng, category);
            text::comment(&mut rng, c.language, theme, category)
        });
        out.push(CollectedResponse {
            response_id: format!("W{:07}", out.len() + 1),
            customer_id: c.id.clone(),
            submitted_at: at(&mut rng, day),
            language: c.language,
            attributes: vec![
                ("region", REGIONS[c.region].0),
                ("plan", PLANS[c.plan]),
                ("age_band", AGE_BANDS[c.age]),
                ("device", DEVICES[c.device]),
            ],
            answers: vec![("task", completed as u8, None), ("stars", stars, comment)],
        });
    }
    out
}

/// PCG-XSH-RR 64/32 (O'Neill 2014): small, fast and stable across platforms and versions.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut r = Rng {
            state: seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407),
        };
        r.next_u32();
        r
    }

    pub fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        let rot = (old >> 59) as u32;
        xorshifted.rotate_right(rot)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        let hi = (self.next_u32() as u64) << 21;
        let lo = (self.next_u32() as u64) >> 11;
        ((hi | lo) as f64) / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    pub fn below(&mut self, n: u64) -> u64 {
        ((self.uniform() * n as f64) as u64).min(n.saturating_sub(1))
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.uniform()).ln()
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Index drawn with the given weights.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.uniform() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// Regions and the languages their customers write in (weights).
pub const REGIONS: [(&str, &[(&str, f64)]); 4] = [
    ("North", &[("nl", 0.5), ("en", 0.3), ("de", 0.2)]),
    ("South", &[("es", 0.5), ("fr", 0.3), ("en", 0.2)]),
    ("East", &[("hr", 0.45), ("zh", 0.3), ("en", 0.25)]),
    ("West", &[("en", 0.8), ("fr", 0.1), ("de", 0.1)]),
];
pub const PLANS: [&str; 3] = ["basic", "plus", "premium"];
pub const AGE_BANDS: [&str; 3] = ["18-34", "35-54", "55+"];
pub const DEVICES: [&str; 2] = ["ios", "android"];
pub const CHANNELS: [&str; 3] = ["web", "app", "phone"];

struct Customer {
    id: String,
    region: usize,
    plan: usize,
    age: usize,
    device: usize,
    channel: usize,
    language: &'static str,
    signup: NaiveDate,
    /// Last NPS category: -1 detractor, 0 passive, 1 promoter.
    last_category: Option<i8>,
    active: bool,
    cancelled_on: Option<NaiveDate>,
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap()
}

fn add_months(d: NaiveDate, m: i32) -> NaiveDate {
    if m >= 0 {
        d.checked_add_months(chrono::Months::new(m as u32)).unwrap()
    } else {
        d.checked_sub_months(chrono::Months::new((-m) as u32))
            .unwrap()
    }
}

fn at(rng: &mut Rng, day: NaiveDate) -> NaiveDateTime {
    day.and_hms_opt(
        7 + rng.below(14) as u32,
        rng.below(60) as u32,
        rng.below(60) as u32,
    )
    .unwrap()
}

/// Attribute questions of the relationship survey: name, the average rating, how strongly the
/// rating follows the overall score (per 2 NPS points), and the extra drop for delayed
/// deliveries.
const ATTRIBUTES: [(&str, f64, f64, f64); 4] = [
    ("delivery", 3.2, 0.85, 1.3),
    ("value", 3.6, 0.6, 0.0),
    ("ordering", 4.0, 0.4, 0.0),
    ("support", 3.6, 0.25, 0.0),
];

/// One answer of `c` in responses.csv: the next response id, the submission and the customer's
/// segment columns.
struct Answer<'a> {
    at: NaiveDateTime,
    metric: &'a str,
    score: u8,
    comment: &'a str,
    survey: &'a str,
    channel: usize,
}

fn write_answer(
    f: &mut CsvFile,
    seq: &mut u64,
    c: &Customer,
    a: Answer<'_>,
) -> std::io::Result<()> {
    *seq += 1;
    f.row(&[
        &format!("R{seq:08}"),
        &c.id,
        &ts(a.at),
        a.metric,
        &a.score.to_string(),
        a.comment,
        a.survey,
        a.survey,
        CHANNELS[a.channel],
        c.language,
        REGIONS[c.region].0,
        PLANS[c.plan],
        AGE_BANDS[c.age],
        DEVICES[c.device],
    ])
}

/// Writes one web session visit → cart → checkout → purchase from `start`, going on from each
/// step with the chance `p_next` of that step (0 for the last); returns the last step reached.
fn write_session(
    f: &mut CsvFile,
    rng: &mut Rng,
    seq: u64,
    customer: &str,
    start: NaiveDateTime,
    p_next: [f64; 4],
) -> std::io::Result<&'static str> {
    let mut t = start;
    for (step, p) in ["visit", "cart", "checkout", "purchase"]
        .into_iter()
        .zip(p_next)
    {
        f.row(&[&format!("S{seq:08}"), customer, step, &ts(t)])?;
        if !rng.chance(p) {
            return Ok(step);
        }
        t += Duration::seconds(20 + rng.exponential(240.0) as i64);
    }
    Ok("purchase")
}

fn ts(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Writes the demo project and returns what was written.
pub fn generate(opts: &DemoOptions) -> std::io::Result<DemoSummary> {
    std::fs::create_dir_all(opts.dir.join("data"))?;
    let mut rng = Rng::new(opts.seed);
    let months = opts.months.max(2) as i32;
    let last_month = first_of_month(opts.end);
    let first_month = add_months(last_month, -(months - 1));
    let drop_month = add_months(last_month, -2);
    let data = opts.dir.join("data");
    let mut customers_f = CsvFile::create(
        &data.join("customers.csv"),
        &[
            "customer_id",
            "region",
            "plan",
            "age_band",
            "device",
            "preferred_channel",
            "language",
            "signup_at",
        ],
    )?;
    let mut responses_f = CsvFile::create(
        &data.join("responses.csv"),
        &[
            "response_id",
            "customer_id",
            "submitted_at",
            "metric",
            "score",
            "comment",
            "survey",
            "touchpoint",
            "channel",
            "language",
            "region",
            "plan",
            "age_band",
            "device",
        ],
    )?;
    let mut invitations_f = CsvFile::create(
        &data.join("invitations.csv"),
        &[
            "customer_id",
            "survey",
            "sent_at",
            "region",
            "plan",
            "age_band",
            "device",
        ],
    )?;
    let mut lifecycle_f =
        CsvFile::create(&data.join("lifecycle.csv"), &["customer_id", "event", "at"])?;
    let mut tickets_f = CsvFile::create(
        &data.join("tickets.csv"),
        &[
            "ticket_id",
            "customer_id",
            "created_at",
            "first_response_at",
            "resolved_at",
            "contacts",
            "reopened",
            "channel",
            "category",
            "agent",
            "handle_seconds",
            "text",
        ],
    )?;
    let mut contacts_f = CsvFile::create(
        &data.join("contacts.csv"),
        &[
            "offered_at",
            "answered_at",
            "abandoned",
            "wait_seconds",
            "channel",
        ],
    )?;
    let mut journey_f = CsvFile::create(
        &data.join("journey.csv"),
        &["session_id", "customer_id", "step", "at"],
    )?;
    let mut referrals_f = CsvFile::create(
        &data.join("referrals.csv"),
        &["referrer_id", "invited_at", "converted_at"],
    )?;
    let mut mentions_f = CsvFile::create(
        &data.join("mentions.csv"),
        &["mention_id", "platform", "text", "at", "author"],
    )?;

    // Customers: most exist at the start, the rest sign up evenly over the period.
    let total_days = (opts.end - first_month).num_days().max(1);
    let mut custs: Vec<Customer> = (0..opts.customers)
        .map(|i| {
            let region = rng.weighted(&[0.3, 0.25, 0.2, 0.25]);
            let langs = REGIONS[region].1;
            let li = rng.weighted(&langs.iter().map(|l| l.1).collect::<Vec<_>>());
            let signup = if rng.chance(0.6) {
                first_month - Duration::days(rng.below(700) as i64 + 1)
            } else {
                first_month + Duration::days(rng.below(total_days as u64) as i64)
            };
            Customer {
                id: format!("C{:07}", i + 1),
                region,
                plan: rng.weighted(&[0.5, 0.3, 0.2]),
                age: rng.weighted(&[0.35, 0.4, 0.25]),
                device: rng.below(2) as usize,
                channel: rng.weighted(&[0.45, 0.35, 0.2]),
                language: langs[li].0,
                signup,
                last_category: None,
                active: true,
                cancelled_on: None,
            }
        })
        .collect();
    for c in &custs {
        customers_f.row(&[
            &c.id,
            REGIONS[c.region].0,
            PLANS[c.plan],
            AGE_BANDS[c.age],
            DEVICES[c.device],
            CHANNELS[c.channel],
            c.language,
            &c.signup.to_string(),
        ])?;
        lifecycle_f.row(&[&c.id, "start", &ts(at(&mut rng, c.signup))])?;
    }

    // Attribute ratings draw from their own stream, so adding them left every other planted
    // effect's random numbers unchanged.
    let mut attr_rng = Rng::new(opts.seed ^ 0x5eed_a77b);
    // So do the web sessions just before an NPS answer (the failed-checkout touchpoint).
    let mut tp_rng = Rng::new(opts.seed ^ 0x70c4_9011);
    // The wording of comments draws from its own generator, so that every other figure of the
    // demo is the same whatever the comments say.
    let mut words_rng = Rng::new(opts.seed ^ 0x3c0f_fee5);
    let mut response_seq = 0u64;
    let mut ticket_seq = 0u64;
    let mut session_seq = 0u64;
    let mut mention_seq = 0u64;
    let mut month = first_month;
    while month <= last_month {
        let next = add_months(month, 1);
        let days_in_month = (next - month).num_days() as u64;
        let after_drop = month >= drop_month;
        for c in custs.iter_mut() {
            if c.signup >= next {
                continue;
            }
            // Reactivation: a cancelled customer sometimes comes back after a long gap.
            if !c.active {
                if let Some(cancelled) = c.cancelled_on
                    && (month - cancelled).num_days() > 300
                    && rng.chance(0.03)
                {
                    c.active = true;
                    c.cancelled_on = None;
                    let day = month + Duration::days(rng.below(days_in_month) as i64);
                    lifecycle_f.row(&[&c.id, "start", &ts(at(&mut rng, day))])?;
                }
                continue;
            }
            let day_in = |rng: &mut Rng| month + Duration::days(rng.below(days_in_month) as i64);
            // Activity (purchases/bookings).
            if rng.chance(0.55) {
                let d = day_in(&mut rng);
                lifecycle_f.row(&[&c.id, "activity", &ts(at(&mut rng, d))])?;
            }
            // Relationship survey: invitations equal for all, response rate differs by age.
            if rng.chance(0.22) {
                let sent = day_in(&mut rng);
                let sent_at = at(&mut rng, sent);
                invitations_f.row(&[
                    &c.id,
                    "relationship",
                    &ts(sent_at),
                    REGIONS[c.region].0,
                    PLANS[c.plan],
                    AGE_BANDS[c.age],
                    DEVICES[c.device],
                ])?;
                let rate = [0.09, 0.36, 0.40][c.age];
                let answered = sent_at + Duration::minutes(5 + rng.below(60 * 48) as i64);
                if rng.chance(rate) && answered.date() <= opts.end {
                    let mut mu = 8.1 + [-0.5, 0.0, 0.6][c.plan] + [-0.7, 0.0, 0.3][c.age];
                    // Almost half of the answers come within 36 h of a web session; a
                    // session that stopped at checkout (payment failed, or gave up) costs
                    // 2.5 points.
                    if tp_rng.chance(0.45) {
                        session_seq += 1;
                        let start = answered - Duration::minutes(60 + tp_rng.below(35 * 60) as i64);
                        let last = write_session(
                            &mut journey_f,
                            &mut tp_rng,
                            session_seq,
                            &c.id,
                            start,
                            [0.6, 0.7, 0.75, 0.0],
                        )?;
                        if last == "checkout" {
                            mu -= 2.5;
                        }
                    }
                    let delayed = c.region == 0 && after_drop && rng.chance(0.7);
                    if delayed {
                        mu -= 2.6;
                    }
                    let score = (mu + 1.7 * rng.normal()).round().clamp(0.0, 10.0) as u8;
                    let category = if score >= 9 {
                        1
                    } else if score >= 7 {
                        0
                    } else {
                        -1
                    };
                    c.last_category = Some(category);
                    let comment = if rng.chance(if category < 0 { 0.75 } else { 0.4 }) {
                        let theme = if delayed && category < 0 {
                            text::Theme::DeliveryDelay
                        } else {
                            text::pick_theme(&mut rng, category)
                        };
                        let base = text::comment(&mut rng, c.language, theme, category);
                        text::vary(&mut words_rng, base, c.language, theme, category)
                    } else {
                        String::new()
                    };
                    let survey = "relationship";
                    let nps = Answer {
                        at: answered,
                        metric: "nps",
                        score,
                        comment: &comment,
                        survey,
                        channel: c.channel,
                    };
                    write_answer(&mut responses_f, &mut response_seq, c, nps)?;
                    // Attribute ratings (1-5) of the same submission: each follows the
                    // customer's overall score with a planted strength (delivery strongest,
                    // support weakest); delayed deliveries also rate delivery itself lower.
                    let z = (score as f64 - 7.5) / 2.0;
                    for (name, base, strength, penalty) in ATTRIBUTES {
                        if !attr_rng.chance(0.9) {
                            continue; // skipped question
                        }
                        let mu = base + strength * z - if delayed { penalty } else { 0.0 };
                        let rating = (mu + 0.8 * attr_rng.normal()).round().clamp(1.0, 5.0) as u8;
                        let rating = Answer {
                            at: answered,
                            metric: name,
                            score: rating,
                            comment: "",
                            survey,
                            channel: c.channel,
                        };
                        write_answer(&mut responses_f, &mut response_seq, c, rating)?;
                    }
                }
            }
            // Support contact with a transactional survey (CSAT and CES).
            if rng.chance(0.09) {
                let d = day_in(&mut rng);
                let created = at(&mut rng, d);
                let channel = if rng.chance(0.7) {
                    c.channel
                } else {
                    rng.below(3) as usize
                };
                let category = *rng.pick(&["delivery", "billing", "account", "product", "returns"]);
                let delivery_issue = c.region == 0 && after_drop && rng.chance(0.5);
                let category = if delivery_issue { "delivery" } else { category };
                let first_response = created
                    + Duration::minutes(
                        rng.exponential(if channel == 2 { 20.0 } else { 180.0 }) as i64 + 1,
                    );
                let contacts = 1 + (rng.exponential(0.4) as u64).min(5);
                let resolved = first_response
                    + Duration::minutes(rng.exponential(60.0 * 24.0 * contacts as f64) as i64 + 5);
                let reopened = rng.chance(0.08);
                ticket_seq += 1;
                let handle = (120.0 + rng.exponential(420.0)) as u64;
                tickets_f.row(&[
                    &format!("T{ticket_seq:07}"),
                    &c.id,
                    &ts(created),
                    &if first_response.date() <= opts.end {
                        ts(first_response)
                    } else {
                        String::new()
                    },
                    &if resolved.date() <= opts.end {
                        ts(resolved)
                    } else {
                        String::new()
                    },
                    &contacts.to_string(),
                    if reopened { "true" } else { "false" },
                    CHANNELS[channel],
                    category,
                    &format!("agent{:02}", rng.below(25) + 1),
                    &handle.to_string(),
                    &text::ticket_text(&mut rng, c.language, category),
                ])?;
                let answered = resolved + Duration::minutes(10 + rng.below(600) as i64);
                if rng.chance([0.09, 0.36, 0.40][c.age]) && answered.date() <= opts.end {
                    let sat = (4.0 + [0.0, -0.2, 0.3][c.plan]
                        - if delivery_issue { 1.0 } else { 0.0 }
                        - 0.25 * (contacts as f64 - 1.0)
                        + 0.9 * rng.normal())
                    .round()
                    .clamp(1.0, 5.0) as u8;
                    // CES 2.0 (1-7, higher = easier): phone is about one point harder.
                    let ease =
                        (5.6 - if channel == 2 { 1.1 } else { 0.0 } - 0.3 * (contacts as f64 - 1.0)
                            + 1.1 * rng.normal())
                        .round()
                        .clamp(1.0, 7.0) as u8;
                    for (metric, score) in [("csat", sat), ("ces", ease)] {
                        let a = Answer {
                            at: answered,
                            metric,
                            score,
                            comment: "",
                            survey: "support",
                            channel,
                        };
                        write_answer(&mut responses_f, &mut response_seq, c, a)?;
                    }
                }
            }
            // Web journeys: visit -> cart -> checkout -> purchase.
            if rng.chance(0.3) {
                session_seq += 1;
                let d = day_in(&mut rng);
                let start = at(&mut rng, d);
                write_session(
                    &mut journey_f,
                    &mut rng,
                    session_seq,
                    &c.id,
                    start,
                    [0.45, 0.6, 0.8, 0.0],
                )?;
            }
            // Referrals, more often from promoters.
            let p_ref = match c.last_category {
                Some(1) => 0.04,
                Some(0) => 0.015,
                _ => 0.005,
            };
            if rng.chance(p_ref) {
                let d = day_in(&mut rng);
                let inv = at(&mut rng, d);
                let conv = if rng.chance(0.25) {
                    ts(inv + Duration::days(rng.below(20) as i64))
                } else {
                    String::new()
                };
                referrals_f.row(&[&c.id, &ts(inv), &conv])?;
            }
            // Churn: detractors cancel at about three times the promoter rate.
            let hazard = 0.012
                * match c.last_category {
                    Some(-1) => 3.0,
                    Some(0) => 1.4,
                    Some(_) => 1.0,
                    None => 1.2,
                };
            if rng.chance(hazard) {
                // Not before the signup day (a cancel before the start would be rejected).
                let d = day_in(&mut rng).max(c.signup);
                lifecycle_f.row(&[&c.id, "cancel", &ts(at(&mut rng, d))])?;
                c.active = false;
                c.cancelled_on = Some(d);
            }
        }
        // Contact-centre queue: calls offered this month.
        let calls = (custs.len() as f64 * 0.03) as u64 + 1;
        for _ in 0..calls {
            let day = month + Duration::days(rng.below(days_in_month) as i64);
            let offered = at(&mut rng, day);
            let wait = rng.exponential(70.0);
            let patience = rng.exponential(150.0);
            let (answered, abandoned, waited) = if wait <= patience {
                (ts(offered + Duration::seconds(wait as i64)), "false", wait)
            } else {
                (String::new(), "true", patience)
            };
            contacts_f.row(&[
                &ts(offered),
                &answered,
                abandoned,
                &format!("{waited:.0}"),
                *rng.pick(&["phone", "chat"]),
            ])?;
        }
        // Social mentions.
        let mentions = (custs.len() as f64 * 0.01) as u64 + 2;
        for _ in 0..mentions {
            mention_seq += 1;
            let category = if rng.chance(0.4) {
                -1
            } else if rng.chance(0.5) {
                0
            } else {
                1
            };
            let region = rng.below(4) as usize;
            let lang = REGIONS[region].1[0].0;
            let theme = if region == 0 && after_drop && category < 0 {
                text::Theme::DeliveryDelay
            } else {
                text::pick_theme(&mut rng, category)
            };
            let platform = *rng.pick(&["x", "instagram", "trustpilot", "reddit"]);
            let text = text::comment(&mut rng, lang, theme, category);
            let day = month + Duration::days(rng.below(days_in_month) as i64);
            let when = ts(at(&mut rng, day));
            let author = format!("@user{}", rng.below(100_000));
            mentions_f.row(&[
                &format!("M{mention_seq:07}"),
                platform,
                &text,
                &when,
                &author,
            ])?;
        }
        month = next;
    }
    let mut files = Vec::new();
    for f in [
        customers_f,
        responses_f,
        invitations_f,
        lifecycle_f,
        tickets_f,
        contacts_f,
        journey_f,
        referrals_f,
        mentions_f,
    ] {
        files.push(f.finish()?);
    }
    let config = opts.dir.join("cxray.toml");
    std::fs::write(&config, config_text(opts, &drop_month))?;
    Ok(DemoSummary {
        config,
        files,
        drop_month: drop_month.format("%Y-%m").to_string(),
        collected: collected(&custs, opts.seed, opts.end),
    })
}

fn config_text(opts: &DemoOptions, drop_month: &NaiveDate) -> String {
    format!(
        r#"# cxray demo project: {customers} customers, {months} months to {end}, seed {seed}.
# Planted effects (see the cxray-demo crate docs): NPS in region North drops from {drop}
# (delivery delays); CES is worse on the phone channel; detractors churn ~3x more than
# promoters; age band 18-34 answers surveys ~4x less often; device has no effect at all.

[project]
name = "Demo retailer"
timezone = "UTC"
min_n = 30

[journey]
steps = ["visit", "cart", "checkout", "purchase"]

# Attribute ratings of the relationship survey, for key driver analysis (`cxray drivers`).
[metrics.delivery]
scale = [1, 5]
name = "Delivery (1-5)"
driver = true

[metrics.value]
scale = [1, 5]
name = "Value for money (1-5)"
driver = true

[metrics.ordering]
scale = [1, 5]
name = "Ease of ordering (1-5)"
driver = true

[metrics.support]
scale = [1, 5]
name = "Customer service (1-5)"
driver = true

[[sources]]
path = "data/responses.csv"
entity = "responses"

[[sources]]
path = "data/invitations.csv"
entity = "invitations"

[[sources]]
path = "data/customers.csv"
entity = "customers"

[[sources]]
path = "data/tickets.csv"
entity = "tickets"

[[sources]]
path = "data/lifecycle.csv"
entity = "lifecycle"

[[sources]]
path = "data/contacts.csv"
entity = "contacts"

[[sources]]
path = "data/journey.csv"
entity = "journey"

[[sources]]
path = "data/referrals.csv"
entity = "referrals"

[[sources]]
path = "data/mentions.csv"
entity = "mentions"

# `cxray alerts` evaluates these on the latest complete month (exit code 3 when one fires).
[[alerts]]
name = "Region NPS below zero"
metric = "nps"
by = "region"
significantly_below = 0

[[alerts]]
name = "NPS fell in a region"
metric = "nps"
by = "region"
significant_drop = true
min_drop = 5

[[alerts]]
name = "Support CSAT under 60% satisfied"
metric = "csat"
significantly_below = 60
"#,
        customers = opts.customers,
        months = opts.months,
        end = opts.end,
        seed = opts.seed,
        drop = drop_month.format("%Y-%m"),
    )
}

/// The demo's config path inside `dir`.
pub fn config_path(dir: &Path) -> PathBuf {
    dir.join("cxray.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_complete() {
        let a = tempdir("a");
        let b = tempdir("b");
        let mk = |d: &Path| DemoOptions {
            dir: d.to_path_buf(),
            customers: 300,
            months: 6,
            ..Default::default()
        };
        let sa = generate(&mk(&a)).unwrap();
        generate(&mk(&b)).unwrap();
        for (name, rows) in &sa.files {
            assert!(*rows > 0, "{name} has rows");
            let x = std::fs::read(a.join("data").join(name)).unwrap();
            let y = std::fs::read(b.join("data").join(name)).unwrap();
            assert_eq!(x, y, "{name} is deterministic");
        }
        assert_eq!(sa.drop_month, "2025-10");
        std::fs::remove_dir_all(a).ok();
        std::fs::remove_dir_all(b).ok();
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("cxray-demo-test-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn rng_is_uniform_enough() {
        let mut r = Rng::new(1);
        let n = 100_000;
        let mean: f64 = (0..n).map(|_| r.uniform()).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01);
        let z: f64 = (0..n).map(|_| r.normal()).sum::<f64>() / n as f64;
        assert!(z.abs() < 0.02);
    }
}
