//! Triggers: a journey event of a watched step invites its customer to a survey, unless the
//! contact rules say no. Every outcome is recorded with its reason (`cxray_store::Decision`):
//! invited, throttled ("surveyed 12 days ago (checkout)"), sampled out ("sampled out: 20% of
//! customers are invited"), suppressed, over budget, too late, no customer, or no address (an
//! email trigger's event without a valid `email`). Decisions are made one at a time (a lock), so
//! two events of one customer arriving together cannot both pass the frequency rules.
//!
//! Events of the events API are decided for the link and email triggers of their step; the
//! web widget asks for the widget triggers of its page (its touchpoint), as an event of its
//! own. The rules are the same for every channel.

use std::collections::BTreeMap;

use cxray_project::{ContactRules, TriggerConfig};
use cxray_store::{Decision, Invitation, NewEvent};
use sha2::{Digest, Sha256};

/// The triggers of a project, by step (events of the API) and by page (the web widget).
#[derive(Debug, Clone, Default)]
pub struct Triggers {
    by_step: BTreeMap<String, Vec<Watch>>,
    by_page: BTreeMap<String, Vec<Watch>>,
    pub rules: ContactRules,
}

/// How an invitation reaches its customer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Channel {
    /// The decision holds the personal link; the caller delivers it.
    #[default]
    Link,
    /// Sent to the event's `email` attribute.
    Email,
    /// Shown by the web widget on the page.
    Widget,
}

impl Channel {
    /// The channel of the answers given through the invitation (none for a link: where the
    /// caller puts it is theirs to say).
    pub fn answers_channel(self) -> Option<&'static str> {
        match self {
            Channel::Link => None,
            Channel::Email => Some("email"),
            Channel::Widget => Some("widget"),
        }
    }
}

/// A survey a step triggers, with its sampling share, daily budget and timing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Watch {
    pub survey: String,
    pub share: f64,
    pub daily_budget: Option<u64>,
    pub delay_minutes: u32,
    /// (from, to) hours, local to the customer.
    pub quiet_hours: Option<(u8, u8)>,
    pub channel: Channel,
}

impl Triggers {
    /// Checks the triggers against the surveys there are.
    pub fn new(
        configs: &[TriggerConfig],
        rules: ContactRules,
        surveys: &[String],
    ) -> Result<Triggers, String> {
        let mut by_step: BTreeMap<String, Vec<Watch>> = BTreeMap::new();
        let mut by_page: BTreeMap<String, Vec<Watch>> = BTreeMap::new();
        for t in configs {
            let share = t.share.unwrap_or(1.0);
            if let Some([from, to]) = t.quiet_hours
                && (from > 23 || to > 23 || from == to)
            {
                return Err(format!(
                    "[[triggers]] on {:?}: quiet_hours are two different hours 0-23, e.g. [21, 8]",
                    t.on
                ));
            }
            if !(0.0..=1.0).contains(&share) {
                return Err(format!(
                    "[[triggers]] on {:?}: share {share} is not between 0 and 1",
                    t.on
                ));
            }
            let channel = match t.channel.as_deref().map(str::trim) {
                None | Some("link") => Channel::Link,
                Some("email") => Channel::Email,
                Some("widget") => Channel::Widget,
                Some(other) => {
                    return Err(format!(
                        "[[triggers]] on {:?}: channel {other:?}: use \"link\", \"email\" or \
                         \"widget\"",
                        t.on
                    ));
                }
            };
            if channel == Channel::Widget
                && (t.delay_minutes.is_some_and(|d| d > 0) || t.quiet_hours.is_some())
            {
                return Err(format!(
                    "[[triggers]] on {:?}: a widget trigger shows its survey while the customer \
                     is on the page: delay_minutes and quiet_hours do not apply to it",
                    t.on
                ));
            }
            if !surveys.contains(&t.survey) {
                return Err(format!(
                    "[[triggers]] on {:?}: no survey {:?} (the surveys are: {})",
                    t.on,
                    t.survey,
                    surveys.join(", ")
                ));
            }
            let map = match channel {
                Channel::Widget => &mut by_page,
                _ => &mut by_step,
            };
            map.entry(t.on.trim().to_string()).or_default().push(Watch {
                survey: t.survey.clone(),
                share,
                daily_budget: t.daily_budget,
                delay_minutes: t.delay_minutes.unwrap_or(0),
                quiet_hours: t.quiet_hours.map(|[a, b]| (a, b)),
                channel,
            });
        }
        Ok(Triggers {
            by_step,
            by_page,
            rules,
        })
    }

    /// No trigger watches the events of the API.
    pub fn is_empty(&self) -> bool {
        self.by_step.is_empty()
    }

    /// Every (step, survey) a trigger of the events API watches.
    pub fn watched(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_step
            .iter()
            .flat_map(|(step, w)| w.iter().map(move |w| (step.as_str(), w.survey.as_str())))
    }

    /// Whether a trigger sends its invitations by email.
    pub fn sends_email(&self) -> bool {
        self.by_step
            .values()
            .flatten()
            .any(|w| w.channel == Channel::Email)
    }

    /// The surveys an event's step triggers (by link or email).
    pub fn for_step(&self, step: &str) -> &[Watch] {
        self.by_step.get(step.trim()).map_or(&[], Vec::as_slice)
    }

    /// The surveys the widget may show on a page (its touchpoint).
    pub fn for_page(&self, touchpoint: &str) -> &[Watch] {
        self.by_page
            .get(touchpoint.trim())
            .map_or(&[], Vec::as_slice)
    }

    /// The pages (touchpoints) with a widget trigger.
    pub fn pages(&self) -> impl Iterator<Item = &str> {
        self.by_page.keys().map(String::as_str)
    }
}

/// Where a customer falls in [0, 1) for a survey: the same every time (a replay, a restart,
/// another server decides alike), independent between surveys.
pub fn sample_point(customer_id: &str, survey: &str) -> f64 {
    let h = Sha256::new()
        .chain_update(customer_id.as_bytes())
        .chain_update([0])
        .chain_update(survey.as_bytes())
        .finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    (u64::from_be_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// What the store says of a customer's past invitations, for one decision.
pub trait History {
    /// The latest invitation (to any survey, or to `survey`; from any touchpoint, or from
    /// `touchpoint`): (survey, sent at in µs).
    fn last(
        &mut self,
        customer: &str,
        survey: Option<&str>,
        touchpoint: Option<&str>,
    ) -> Result<Option<(String, i64)>, String>;
    /// Why the customer is never invited, if they are suppressed.
    fn suppressed(&mut self, customer: &str) -> Result<Option<String>, String>;
    /// Invitations to `survey` since `since` (µs).
    fn invited_since(&mut self, survey: &str, since: i64) -> Result<u64, String>;
}

/// Events received longer ago than this are not invited when they are decided late (after a
/// restart): an invitation for a ticket solved days ago would surprise the customer.
pub const LATE_AFTER_MICROS: i64 = 24 * 3_600_000_000;

/// (survey, customer, invitation id, the language the event asks for, the channel) → (path,
/// expiry in µs, the language the survey is offered in).
pub type MakeLink<'a> =
    dyn Fn(&str, &str, &str, Option<&str>, Channel) -> (String, i64, String) + 'a;

/// What a decision needs besides the history: the time and how to make a link.
pub struct Context<'a> {
    pub now_micros: i64,
    /// The project's time zone (a customer's own, from the event, wins).
    pub timezone: chrono_tz::Tz,
    /// Makes the link of an invitation.
    pub link: &'a MakeLink<'a>,
}

/// Decides, for one event and one triggered survey, with the outcome's reason; `received_at`
/// (µs) when the event is decided after it arrived (a restart), none as it arrives.
pub fn decide(
    event: &NewEvent,
    received_at: Option<i64>,
    watch: &Watch,
    rules: &ContactRules,
    history: &mut dyn History,
    cx: &Context<'_>,
) -> Result<(Decision, Option<Invitation>), String> {
    let (survey, share) = (watch.survey.as_str(), watch.share);
    let mut d = Decision {
        decision_id: format!("{}/{survey}", event.event_id),
        event_id: event.event_id.clone(),
        customer_id: event.customer_id.clone(),
        survey: survey.to_string(),
        decided_at: cx.now_micros,
        outcome: String::new(),
        reason: String::new(),
        invitation_id: None,
        link: None,
    };
    if let Some(received) = received_at
        && cx.now_micros - received > LATE_AFTER_MICROS
    {
        d.outcome = "too_late".into();
        d.reason = format!(
            "too late: the event arrived {} hours before it could be decided (the server was \
             stopped)",
            (cx.now_micros - received) / 3_600_000_000
        );
        return Ok((d, None));
    }
    let Some(customer) = event.customer_id.as_deref() else {
        d.outcome = "no_customer".into();
        d.reason = "the event names no customer (a session only)".into();
        return Ok((d, None));
    };
    if let Some(why) = history.suppressed(customer)? {
        d.outcome = "suppressed".into();
        d.reason = format!("suppressed: {why}");
        return Ok((d, None));
    }
    if sample_point(customer, survey) >= share {
        d.outcome = "sampled_out".into();
        d.reason = format!(
            "sampled out: {:.0}% of customers are invited",
            share * 100.0
        );
        return Ok((d, None));
    }
    let day = 86_400_000_000i64;
    let touchpoint = event.step.trim();
    for (days, only, rule) in [
        (
            rules.any_survey_days,
            (None, None),
            "the rule across surveys",
        ),
        (
            rules.same_survey_days,
            (Some(survey), None),
            "the survey's rule",
        ),
        (
            rules.same_touchpoint_days,
            (None, Some(touchpoint)),
            "the touchpoint's rule",
        ),
    ] {
        let Some(days) = days else { continue };
        if let Some((last_survey, sent)) = history.last(customer, only.0, only.1)?
            && cx.now_micros - sent < days as i64 * day
        {
            let ago = (cx.now_micros - sent) / day;
            d.outcome = "throttled".into();
            d.reason = format!(
                "throttled: surveyed {} ({last_survey}); {} allows one invitation in {days} days",
                match ago {
                    // An invitation waiting for its send time (a delay, quiet hours).
                    _ if sent > cx.now_micros => "soon: an invitation is planned".to_string(),
                    0 => "today".to_string(),
                    1 => "1 day ago".to_string(),
                    n => format!("{n} days ago"),
                },
                rule,
            );
            return Ok((d, None));
        }
    }
    if let Some(budget) = watch.daily_budget {
        let day_start = cx.now_micros - cx.now_micros.rem_euclid(day);
        let sent = history.invited_since(survey, day_start)?;
        if sent >= budget {
            d.outcome = "over_budget".into();
            d.reason =
                format!("over budget: {sent} invitations to {survey} today (at most {budget})");
            return Ok((d, None));
        }
    }
    if watch.channel == Channel::Email {
        let address = event.attributes.get("email").map(|a| a.trim());
        let why = match address {
            None | Some("") => Some("no email address: the event has no `email` attribute"),
            Some(a) if a.parse::<lettre::Address>().is_err() => {
                Some("no email address: the event's `email` is not a valid address")
            }
            Some(_) => None,
        };
        if let Some(why) = why {
            d.outcome = "no_address".into();
            d.reason = why.into();
            return Ok((d, None));
        }
    }
    let (sent_at, when) = send_time(event, watch, cx);
    let invitation_id = format!("{}-{survey}", event.event_id);
    let asked = event.attributes.get("language").map(String::as_str);
    let (link, expires_at, language) =
        (cx.link)(survey, customer, &invitation_id, asked, watch.channel);
    d.outcome = "invited".into();
    let how = match watch.channel {
        Channel::Link => "invited",
        Channel::Email => "invited by email",
        Channel::Widget => "invited: shown by the widget",
    };
    d.reason = match when {
        None => how.into(),
        Some(w) => format!("{how}; {w}"),
    };
    d.invitation_id = Some(invitation_id.clone());
    d.link = Some(link);
    let invitation = Invitation {
        invitation_id,
        survey: survey.to_string(),
        customer_id: Some(customer.to_string()),
        language: Some(language),
        sent_at,
        expires_at,
        touchpoint: Some(touchpoint.to_string()),
    };
    Ok((d, Some(invitation)))
}

/// When an invitation goes out: after the trigger's delay, and out of the customer's quiet
/// hours (moved to their end); with the reason when it is not at once.
fn send_time(event: &NewEvent, watch: &Watch, cx: &Context<'_>) -> (i64, Option<String>) {
    use chrono::{Duration, TimeZone, Timelike};
    let mut at = cx.now_micros + watch.delay_minutes as i64 * 60_000_000;
    let mut why = (watch.delay_minutes > 0).then(|| format!("delayed {} min", watch.delay_minutes));
    let Some((from, to)) = watch.quiet_hours else {
        return (at, why);
    };
    let tz: chrono_tz::Tz = event
        .attributes
        .get("timezone")
        .and_then(|t| t.parse().ok())
        .unwrap_or(cx.timezone);
    let Some(local) = chrono::DateTime::from_timestamp_micros(at).map(|t| t.with_timezone(&tz))
    else {
        return (at, why);
    };
    let h = local.hour() as u8;
    let quiet = if from > to {
        h >= from || h < to
    } else {
        h >= from && h < to
    };
    if quiet {
        let day = if from > to && h >= from {
            local.date_naive() + Duration::days(1)
        } else {
            local.date_naive()
        };
        let end = day.and_hms_opt(to as u32, 0, 0).expect("an hour 0-23");
        if let Some(t) = tz.from_local_datetime(&end).earliest() {
            at = t.timestamp_micros();
            why = Some(format!(
                "delayed: quiet hours, sent {} ({tz})",
                t.format("%Y-%m-%d %H:%M")
            ));
        }
    }
    (at, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Past(Vec<(String, i64)>);

    impl History for Past {
        fn suppressed(&mut self, customer: &str) -> Result<Option<String>, String> {
            Ok((customer == "C-out").then(|| "unsubscribed".to_string()))
        }

        fn invited_since(&mut self, survey: &str, since: i64) -> Result<u64, String> {
            Ok(self
                .0
                .iter()
                .filter(|(s, t)| s == survey && *t >= since)
                .count() as u64)
        }

        /// Entries are `survey` or `survey@touchpoint` (default touchpoint: `web`).
        fn last(
            &mut self,
            _: &str,
            survey: Option<&str>,
            touchpoint: Option<&str>,
        ) -> Result<Option<(String, i64)>, String> {
            Ok(self
                .0
                .iter()
                .map(|(s, t)| {
                    let (s, at) = s.split_once('@').unwrap_or((s, "web"));
                    (s.to_string(), *t, at)
                })
                .filter(|(s, _, at)| {
                    survey.is_none_or(|x| x == s) && touchpoint.is_none_or(|x| x == *at)
                })
                .max_by_key(|(_, t, _)| *t)
                .map(|(s, t, _)| (s, t)))
        }
    }

    fn event(customer: Option<&str>) -> NewEvent {
        NewEvent {
            event_id: "E1".into(),
            customer_id: customer.map(Into::into),
            step: "ticket_solved".into(),
            ..Default::default()
        }
    }

    #[test]
    fn each_outcome_comes_with_its_reason() {
        let day = 86_400_000_000i64;
        // Noon, so that an hour or two earlier is the same day.
        let now = 100 * day + day / 2;
        let link = |s: &str, c: &str, i: &str, l: Option<&str>, _: Channel| {
            (
                format!("/s/{s}-{c}-{i}"),
                now + 30 * day,
                l.unwrap_or("en").to_string(),
            )
        };
        let cx = Context {
            now_micros: now,
            timezone: chrono_tz::UTC,
            link: &link,
        };
        let rules = ContactRules {
            any_survey_days: Some(30),
            same_survey_days: Some(90),
            same_touchpoint_days: None,
        };
        let watch = |share: f64, daily_budget: Option<u64>| Watch {
            survey: "support".into(),
            share,
            daily_budget,
            ..Default::default()
        };
        // Decides for customer C1 (None: a session only) with a share and a past.
        let run = |customer: Option<&str>, share: f64, past: Vec<(String, i64)>| {
            decide(
                &event(customer),
                None,
                &watch(share, None),
                &rules,
                &mut Past(past),
                &cx,
            )
            .unwrap()
        };
        let (d, inv) = run(Some("C1"), 1.0, vec![]);
        assert_eq!(
            (d.outcome.as_str(), d.decision_id.as_str()),
            ("invited", "E1/support")
        );
        assert_eq!(inv.unwrap().invitation_id, "E1-support");
        let (d, _) = run(Some("C1"), 1.0, vec![("checkout".into(), now - 12 * day)]);
        assert_eq!(d.outcome, "throttled");
        assert!(
            d.reason.contains("surveyed 12 days ago (checkout)"),
            "{}",
            d.reason
        );
        let (d, _) = run(Some("C1"), 1.0, vec![("support".into(), now - 60 * day)]);
        assert!(
            d.reason.contains("60 days ago (support)") && d.reason.contains("the survey's rule"),
            "{}",
            d.reason
        );
        // Old enough for both rules.
        let (d, inv) = run(Some("C1"), 1.0, vec![("support".into(), now - 91 * day)]);
        assert_eq!(d.outcome, "invited");
        assert_eq!(inv.unwrap().touchpoint.as_deref(), Some("ticket_solved"));
        // The touchpoint's rule: another survey from the same step 100 days ago is too recent
        // for a rule of 120 days; from another step it does not count.
        let by_touchpoint = ContactRules {
            same_touchpoint_days: Some(120),
            ..Default::default()
        };
        let past = |at: &str| vec![(format!("onboarding@{at}"), now - 100 * day)];
        let (d, _) = decide(
            &event(Some("C1")),
            None,
            &watch(1.0, None),
            &by_touchpoint,
            &mut Past(past("ticket_solved")),
            &cx,
        )
        .unwrap();
        assert_eq!(d.outcome, "throttled");
        assert!(
            d.reason
                .contains("surveyed 100 days ago (onboarding); the touchpoint's rule allows one invitation in 120 days"),
            "{}",
            d.reason
        );
        let (d, _) = decide(
            &event(Some("C1")),
            None,
            &watch(1.0, None),
            &by_touchpoint,
            &mut Past(past("checkout")),
            &cx,
        )
        .unwrap();
        assert_eq!(d.outcome, "invited");
        let (d, _) = run(Some("C1"), 0.0, vec![]);
        assert_eq!(
            (d.outcome.as_str(), d.reason.as_str()),
            ("sampled_out", "sampled out: 0% of customers are invited")
        );
        let (d, inv) = run(None, 1.0, vec![]);
        assert_eq!(d.outcome, "no_customer");
        assert!(inv.is_none());
        // A suppressed customer is never invited, whatever the share.
        let (d, _) = decide(
            &event(Some("C-out")),
            None,
            &watch(1.0, None),
            &rules,
            &mut Past(vec![]),
            &cx,
        )
        .unwrap();
        assert_eq!(
            (d.outcome.as_str(), d.reason.as_str()),
            ("suppressed", "suppressed: unsubscribed")
        );
        // Two invitations to the survey today use up a budget of two; yesterday's do not count.
        let today = vec![
            ("support".to_string(), now - 3_600_000_000),
            ("support".to_string(), now - 7_200_000_000),
            ("support".to_string(), now - day),
        ];
        let open = ContactRules::default();
        let (d, _) = decide(
            &event(Some("C7")),
            None,
            &watch(1.0, Some(2)),
            &open,
            &mut Past(today.clone()),
            &cx,
        )
        .unwrap();
        assert_eq!(d.outcome, "over_budget");
        assert!(
            d.reason
                .contains("2 invitations to support today (at most 2)"),
            "{}",
            d.reason
        );
        let (d, _) = decide(
            &event(Some("C7")),
            None,
            &watch(1.0, Some(3)),
            &open,
            &mut Past(today),
            &cx,
        )
        .unwrap();
        assert_eq!(d.outcome, "invited");
        // Decided late (after a restart): an event received more than a day ago invites no one.
        let (d, _) = decide(
            &event(Some("C8")),
            Some(now - 30 * 3_600_000_000),
            &watch(1.0, None),
            &open,
            &mut Past(vec![]),
            &cx,
        )
        .unwrap();
        assert_eq!(d.outcome, "too_late");
        assert!(d.reason.contains("arrived 30 hours before"), "{}", d.reason);
    }

    #[test]
    fn invitations_wait_for_the_delay_and_the_end_of_quiet_hours() {
        // 2026-03-01 22:30 UTC.
        let now = chrono::NaiveDate::from_ymd_opt(2026, 3, 1)
            .unwrap()
            .and_hms_opt(22, 30, 0)
            .unwrap()
            .and_utc()
            .timestamp_micros();
        let link = |_: &str, _: &str, _: &str, _: Option<&str>, _: Channel| {
            (String::new(), 0, "en".into())
        };
        let cx = Context {
            now_micros: now,
            timezone: chrono_tz::UTC,
            link: &link,
        };
        let quiet = Watch {
            survey: "support".into(),
            share: 1.0,
            quiet_hours: Some((21, 8)),
            ..Default::default()
        };
        let rules = ContactRules::default();
        let at = |e: &NewEvent, w: &Watch| {
            let (d, i) = decide(e, None, w, &rules, &mut Past(vec![]), &cx).unwrap();
            (
                d.reason,
                chrono::DateTime::from_timestamp_micros(i.unwrap().sent_at).unwrap(),
            )
        };
        let (why, sent) = at(&event(Some("C1")), &quiet);
        assert_eq!(sent.to_rfc3339(), "2026-03-02T08:00:00+00:00");
        assert!(
            why.contains("quiet hours, sent 2026-03-02 08:00 (UTC)"),
            "{why}"
        );
        // 22:30 UTC is 07:30 the next morning in Tokyo: quiet until 08:00 there (23:00 UTC).
        let mut tokyo = event(Some("C2"));
        tokyo
            .attributes
            .insert("timezone".into(), "Asia/Tokyo".into());
        assert_eq!(
            at(&tokyo, &quiet).1.to_rfc3339(),
            "2026-03-01T23:00:00+00:00"
        );
        // A delay alone; a delay that ends outside quiet hours is not moved.
        let delayed = Watch {
            delay_minutes: 120,
            ..quiet.clone()
        };
        let mut la = event(Some("C3"));
        la.attributes
            .insert("timezone".into(), "America/Los_Angeles".into());
        let (why, sent) = at(&la, &delayed);
        assert_eq!(
            sent.to_rfc3339(),
            "2026-03-02T00:30:00+00:00",
            "16:30 in Los Angeles"
        );
        assert_eq!(why, "invited; delayed 120 min");
        // A second event while the first invitation waits for its time is throttled as such.
        let rules = ContactRules {
            any_survey_days: Some(30),
            ..Default::default()
        };
        let planned = vec![("support".to_string(), now + 9 * 3_600_000_000)];
        let (d, _) = decide(
            &event(Some("C1")),
            None,
            &quiet,
            &rules,
            &mut Past(planned),
            &cx,
        )
        .unwrap();
        assert!(
            d.reason
                .contains("surveyed soon: an invitation is planned (support)"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn sampling_is_stable_and_close_to_its_share() {
        assert_eq!(sample_point("C1", "nps"), sample_point("C1", "nps"));
        assert_ne!(sample_point("C1", "nps"), sample_point("C1", "csat"));
        let n = 20_000;
        let inside = (0..n)
            .filter(|i| sample_point(&format!("C{i}"), "nps") < 0.2)
            .count();
        // Binomial(20,000, 0.2): sd 57; 4 sd either side.
        assert!((3772..=4228).contains(&inside), "{inside}");
    }
}
