//! Service levels: first-response and resolution targets per priority, counted in
//! business time (weekly opening hours in a time zone, less holidays), with the clocks
//! standing still while a conversation is pending (waiting for the customer).
//!
//! Everything here is pure: instants are epoch milliseconds passed in by the caller, and
//! time zones come from the tz database bundled into the binary, so the answers do not
//! depend on the machine. The store glue (`Workflow::sla_state`, `Workflow::sla_sweep`)
//! reads the conversation's times and pauses and asks these functions.

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::domain::Priority;
use crate::error::{Error, Result};

/// Minutes in a day: an opening range ends at most here (midnight of the next day).
pub const DAY_MINUTES: u16 = 24 * 60;

/// How far ahead a deadline is looked for before giving up (a calendar that never opens).
const MAX_DAYS: usize = 3 * 366;

/// When people are at work: opening ranges per weekday in local time, and holidays.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    tz: TimeZone,
    tz_name: String,
    /// Monday first: `[open, close)` in minutes after local midnight, sorted, disjoint.
    week: [Vec<(u16, u16)>; 7],
    holidays: BTreeSet<Date>,
}

impl BusinessCalendar {
    /// A calendar from weekly ranges (Monday first; minutes after local midnight,
    /// `[open, close)`, close at most [`DAY_MINUTES`]) in an IANA time zone.
    pub fn new(tz_name: &str, week: [Vec<(u16, u16)>; 7]) -> Result<Self> {
        let tz = TimeZone::get(tz_name)
            .map_err(|e| Error::invalid(format!("unknown time zone {tz_name:?}: {e}")))?;
        let mut week = week;
        for day in &mut week {
            day.sort_unstable();
            for &(open, close) in day.iter() {
                if open >= close || close > DAY_MINUTES {
                    return Err(Error::invalid(format!(
                        "opening hours {} to {} are not a range within one day",
                        hhmm(open),
                        hhmm(close)
                    )));
                }
            }
            if day.windows(2).any(|w| w[0].1 > w[1].0) {
                return Err(Error::invalid("opening hours of one day overlap"));
            }
        }
        Ok(Self {
            tz,
            tz_name: tz_name.to_owned(),
            week,
            holidays: BTreeSet::new(),
        })
    }

    /// Monday to Friday, `open` to `close` (minutes after local midnight).
    pub fn weekdays(tz_name: &str, open: u16, close: u16) -> Result<Self> {
        let day = vec![(open, close)];
        Self::new(
            tz_name,
            [
                day.clone(),
                day.clone(),
                day.clone(),
                day.clone(),
                day,
                Vec::new(),
                Vec::new(),
            ],
        )
    }

    /// Every hour of every day, in UTC: business time is wall time.
    pub fn always() -> Self {
        let day = vec![(0, DAY_MINUTES)];
        Self {
            tz: TimeZone::UTC,
            tz_name: "UTC".into(),
            week: std::array::from_fn(|_| day.clone()),
            holidays: BTreeSet::new(),
        }
    }

    /// Adds a holiday (`YYYY-MM-DD`, local date): closed all day.
    pub fn with_holiday(mut self, date: &str) -> Result<Self> {
        let d: Date = date
            .parse()
            .map_err(|e| Error::invalid(format!("holiday {date:?} is not a date: {e}")))?;
        self.holidays.insert(d);
        Ok(self)
    }

    pub fn time_zone(&self) -> &str {
        &self.tz_name
    }

    /// The local date of an instant.
    pub fn local_date(&self, at_ms: i64) -> Option<Date> {
        let ts = Timestamp::from_millisecond(at_ms).ok()?;
        Some(self.tz.to_datetime(ts).date())
    }

    /// The instant of `minute` after local midnight of day `day` (days since 1970-01-01,
    /// a local date): a visit's window as booked.
    pub fn local_instant(&self, day: i64, minute: u16) -> Option<i64> {
        let date = Timestamp::from_second(day.checked_mul(86_400)?)
            .ok()?
            .to_zoned(TimeZone::UTC)
            .date();
        self.instant(date, minute)
    }

    /// The local day (days since 1970-01-01) and minute after its midnight of an instant.
    pub fn local_day_minute(&self, at_ms: i64) -> Option<(i64, u16)> {
        let ts = Timestamp::from_millisecond(at_ms).ok()?;
        let dt = self.tz.to_datetime(ts);
        let day = dt
            .date()
            .to_zoned(TimeZone::UTC)
            .ok()?
            .timestamp()
            .as_second()
            .div_euclid(86_400);
        let minute = u16::try_from(i32::from(dt.hour()) * 60 + i32::from(dt.minute())).ok()?;
        Some((day, minute))
    }

    /// The instant a local date starts (its first existing minute).
    pub fn start_of(&self, date: Date) -> Option<i64> {
        self.instant(date, 0)
    }

    /// The instant of `minute` after local midnight of `date` (a minute skipped by a
    /// clock change counts as the first one after the gap).
    fn instant(&self, date: Date, minute: u16) -> Option<i64> {
        let (date, minute) = if minute >= DAY_MINUTES {
            (date.tomorrow().ok()?, 0)
        } else {
            (date, minute)
        };
        let h = i8::try_from(minute / 60).ok()?;
        let m = i8::try_from(minute % 60).ok()?;
        let ts = self.tz.to_timestamp(date.at(h, m, 0, 0)).ok()?;
        Some(ts.as_millisecond())
    }

    /// The open intervals of one local date, as instants.
    fn open_on(&self, date: Date) -> Vec<(i64, i64)> {
        if self.holidays.contains(&date) {
            return Vec::new();
        }
        let day = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
        self.week[day]
            .iter()
            .filter_map(|&(open, close)| {
                let (a, b) = (self.instant(date, open)?, self.instant(date, close)?);
                (b > a).then_some((a, b))
            })
            .collect()
    }
}

fn hhmm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// Business milliseconds in `[from, to)`.
pub fn business_ms_between(cal: &BusinessCalendar, from: i64, to: i64) -> i64 {
    if to <= from {
        return 0;
    }
    let (Some(mut date), Some(last)) = (cal.local_date(from), cal.local_date(to)) else {
        return 0;
    };
    let mut total = 0;
    while date <= last {
        for (a, b) in cal.open_on(date) {
            let (a, b) = (a.max(from), b.min(to));
            if b > a {
                total += b - a;
            }
        }
        match date.tomorrow() {
            Ok(d) => date = d,
            Err(_) => break,
        }
    }
    total
}

/// Whether `at` falls within opening hours.
pub fn is_open(cal: &BusinessCalendar, at: i64) -> bool {
    next_opening(cal, at) == Some(at)
}

/// The first instant at or after `at` when people are at work: `at` itself while open,
/// else the start of the next opening range (in the calendar's local time, across nights,
/// weekends, holidays and clock changes; an opening at a local time a clock change
/// skipped counts from the first minute after the gap). `None` if the calendar has no
/// open hours within about three years.
pub fn next_opening(cal: &BusinessCalendar, at: i64) -> Option<i64> {
    let mut date = cal.local_date(at)?;
    for _ in 0..MAX_DAYS {
        // Ranges are sorted by opening, so the first one still running or ahead is it.
        if let Some((a, _)) = cal.open_on(date).into_iter().find(|&(_, b)| b > at) {
            return Some(a.max(at));
        }
        date = date.tomorrow().ok()?;
    }
    None
}

/// Sorted, merged, non-empty intervals.
fn normalize(intervals: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut v: Vec<(i64, i64)> = intervals.iter().copied().filter(|(a, b)| b > a).collect();
    v.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// `[a, b)` less the (normalized) pauses.
fn without_pauses(a: i64, b: i64, pauses: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut at = a;
    for &(p, q) in pauses {
        if q <= at {
            continue;
        }
        if p >= b {
            break;
        }
        if p > at {
            out.push((at, p));
        }
        at = at.max(q);
        if at >= b {
            break;
        }
    }
    if at < b {
        out.push((at, b));
    }
    out
}

/// The instant at which `target_ms` of business time has passed since `start`, not
/// counting the paused intervals (`[from, to)`; a pause still under way is passed as
/// ending now). `None` if the calendar has no open hours within about three years.
pub fn deadline(
    cal: &BusinessCalendar,
    start: i64,
    target_ms: i64,
    paused_intervals: &[(i64, i64)],
) -> Option<i64> {
    if target_ms <= 0 {
        return Some(start);
    }
    let pauses = normalize(paused_intervals);
    let mut left = target_ms;
    let mut date = cal.local_date(start)?;
    for _ in 0..MAX_DAYS {
        for (a, b) in cal.open_on(date) {
            let a = a.max(start);
            if b <= a {
                continue;
            }
            for (x, y) in without_pauses(a, b, &pauses) {
                let len = y - x;
                if left <= len {
                    return Some(x + left);
                }
                left -= len;
            }
        }
        date = date.tomorrow().ok()?;
    }
    None
}

/// A priority's targets, in business milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SlaTargets {
    pub first_response_ms: i64,
    pub resolution_ms: i64,
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// Targets per priority and the calendar they are counted in. `none` and `medium` count
/// as normal.
#[derive(Debug, Clone)]
pub struct SlaConfig {
    pub urgent: SlaTargets,
    pub high: SlaTargets,
    pub normal: SlaTargets,
    pub low: SlaTargets,
    pub calendar: BusinessCalendar,
}

impl Default for SlaConfig {
    /// Urgent 15 min / 4 h, high 1 h / 8 h, normal 4 h / 24 h, low 8 h / 72 h of business
    /// time; business hours Monday to Friday, 09:00 to 18:00 UTC.
    fn default() -> Self {
        let t = |first: i64, resolution: i64| SlaTargets {
            first_response_ms: first,
            resolution_ms: resolution,
        };
        Self {
            urgent: t(15 * MINUTE, 4 * HOUR),
            high: t(HOUR, 8 * HOUR),
            normal: t(4 * HOUR, 24 * HOUR),
            low: t(8 * HOUR, 72 * HOUR),
            calendar: BusinessCalendar::weekdays("UTC", 9 * 60, 18 * 60)
                .unwrap_or_else(|_| BusinessCalendar::always()),
        }
    }
}

impl SlaConfig {
    pub fn targets(&self, priority: Priority) -> SlaTargets {
        match priority {
            Priority::Urgent => self.urgent,
            Priority::High => self.high,
            Priority::None | Priority::Medium => self.normal,
            Priority::Low => self.low,
        }
    }

    /// The shortest first-response and resolution targets of any priority: no
    /// conversation younger than these (in wall time) can have missed one.
    pub fn shortest(&self) -> SlaTargets {
        let all = [self.urgent, self.high, self.normal, self.low];
        SlaTargets {
            first_response_ms: all.iter().map(|t| t.first_response_ms).min().unwrap_or(0),
            resolution_ms: all.iter().map(|t| t.resolution_ms).min().unwrap_or(0),
        }
    }
}

/// What the SLA needs to know of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaInput {
    pub priority: Priority,
    /// When people took it over; no SLA runs before.
    pub people_since: Option<i64>,
    pub first_response_at: Option<i64>,
    pub resolved_at: Option<i64>,
    /// Pending intervals; `None` as the end of one still under way.
    pub pauses: Vec<(i64, Option<i64>)>,
}

/// One SLA clock (first response or resolution).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaClock {
    pub target_ms: i64,
    /// When the target is (or was) due; while paused, as if the pause ended now. `None`
    /// when the calendar never opens.
    pub due_at: Option<i64>,
    /// When the clock stopped (the first response, the resolution).
    pub done_at: Option<i64>,
    /// For a running clock: business milliseconds left; once past due, minus the
    /// business milliseconds since (at least 1), so it is negative exactly when
    /// breached. `None` once the clock stopped.
    pub remaining_ms: Option<i64>,
    pub breached: bool,
}

/// A conversation's SLA at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaState {
    pub targets: SlaTargets,
    /// When the clocks started (people took the conversation over); `None`: no SLA yet.
    pub started_at: Option<i64>,
    /// Pending: the clocks stand still.
    pub paused: bool,
    pub first_response: Option<SlaClock>,
    pub resolution: Option<SlaClock>,
}

/// The SLA of a conversation at `now`.
pub fn sla_state(config: &SlaConfig, input: &SlaInput, now: i64) -> SlaState {
    let targets = config.targets(input.priority);
    let paused = input.pauses.iter().any(|(_, end)| end.is_none());
    let Some(start) = input.people_since else {
        return SlaState {
            targets,
            started_at: None,
            paused,
            first_response: None,
            resolution: None,
        };
    };
    let cal = &config.calendar;
    let clock = |target_ms: i64, done_at: Option<i64>| {
        // Pauses count up to the moment the clock stopped, or now.
        let until = done_at.unwrap_or(now);
        let pauses: Vec<(i64, i64)> = input
            .pauses
            .iter()
            .map(|&(a, b)| (a, b.unwrap_or(until).min(until)))
            .collect();
        let due_at = deadline(cal, start, target_ms, &pauses);
        let (remaining_ms, breached) = match (done_at, due_at) {
            (Some(done), Some(due)) => (None, done > due),
            (Some(_), None) => (None, false),
            (None, Some(due)) if now <= due => (Some(business_ms_between(cal, now, due)), false),
            (None, Some(due)) => (Some(-business_ms_between(cal, due, now).max(1)), true),
            (None, None) => (None, false),
        };
        SlaClock {
            target_ms,
            due_at,
            done_at,
            remaining_ms,
            breached,
        }
    };
    SlaState {
        targets,
        started_at: Some(start),
        paused,
        // A conversation resolved without any reply stops its first-response clock too.
        first_response: Some(clock(
            targets.first_response_ms,
            input.first_response_at.or(input.resolved_at),
        )),
        resolution: Some(clock(targets.resolution_ms, input.resolved_at)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(cal: &BusinessCalendar, local: &str) -> i64 {
        let dt: jiff::civil::DateTime = local.parse().unwrap();
        cal.tz.to_timestamp(dt).unwrap().as_millisecond()
    }

    fn office(tz: &str) -> BusinessCalendar {
        BusinessCalendar::weekdays(tz, 9 * 60, 18 * 60).unwrap()
    }

    #[test]
    fn local_days_and_minutes_round_trip_in_the_business_zone() {
        let cal = office("America/Sao_Paulo");
        // 2026-12-02 is day 20,789; 09:30 in São Paulo (UTC−3) is 12:30 UTC.
        let ms = cal.local_instant(20_789, 570).unwrap();
        assert_eq!(ms, at(&cal, "2026-12-02T09:30"));
        assert_eq!(ms % 86_400_000, (12 * 60 + 30) * 60_000);
        assert_eq!(cal.local_day_minute(ms), Some((20_789, 570)));
        // 23:00 local is the next day in UTC, still the same local day.
        let late = cal.local_instant(20_789, 23 * 60).unwrap();
        assert_eq!(cal.local_day_minute(late), Some((20_789, 23 * 60)));
        // The end of the day is the next one's midnight.
        let end = cal.local_instant(20_789, DAY_MINUTES).unwrap();
        assert_eq!(cal.local_day_minute(end), Some((20_790, 0)));
    }

    #[test]
    fn business_time_skips_nights_and_weekends() {
        let cal = office("UTC");
        // Friday 2024-05-03 17:00 to Monday 2024-05-06 10:00: one hour Friday, one Monday.
        let from = at(&cal, "2024-05-03T17:00");
        let to = at(&cal, "2024-05-06T10:00");
        assert_eq!(business_ms_between(&cal, from, to), 2 * HOUR);
        // Wholly within a Saturday: nothing.
        assert_eq!(
            business_ms_between(
                &cal,
                at(&cal, "2024-05-04T08:00"),
                at(&cal, "2024-05-04T20:00")
            ),
            0
        );
        assert_eq!(business_ms_between(&cal, to, from), 0);
    }

    #[test]
    fn a_target_spanning_nights_and_a_weekend_lands_in_opening_hours() {
        let cal = office("UTC");
        // 4 h from Thursday 16:00: 2 h on Thursday, 2 more on Friday from 09:00.
        let due = deadline(&cal, at(&cal, "2024-05-02T16:00"), 4 * HOUR, &[]);
        assert_eq!(due, Some(at(&cal, "2024-05-03T11:00")));
        // 24 h from Friday 12:00: 6 h Friday, 9 Monday, 9 Tuesday: Tuesday 18:00.
        let due = deadline(&cal, at(&cal, "2024-05-03T12:00"), 24 * HOUR, &[]);
        assert_eq!(due, Some(at(&cal, "2024-05-07T18:00")));
        // Started on a Sunday night: the clock starts Monday at 09:00.
        let due = deadline(&cal, at(&cal, "2024-05-05T23:00"), 15 * MINUTE, &[]);
        assert_eq!(due, Some(at(&cal, "2024-05-06T09:15")));
    }

    #[test]
    fn holidays_are_closed_all_day() {
        let cal = office("UTC").with_holiday("2024-05-06").unwrap();
        let due = deadline(&cal, at(&cal, "2024-05-03T17:00"), 2 * HOUR, &[]);
        // One hour on Friday; Monday is a holiday; the second hour on Tuesday.
        assert_eq!(due, Some(at(&cal, "2024-05-07T10:00")));
        assert_eq!(
            business_ms_between(
                &cal,
                at(&cal, "2024-05-06T00:00"),
                at(&cal, "2024-05-07T00:00")
            ),
            0
        );
        assert!(office("UTC").with_holiday("next tuesday").is_err());
    }

    #[test]
    fn madrid_spring_forward_keeps_local_opening_hours() {
        // Europe/Madrid moved from +01:00 to +02:00 at 02:00 on Sunday 2024-03-31.
        let cal = office("Europe/Madrid");
        let friday = at(&cal, "2024-03-29T17:00");
        let monday = at(&cal, "2024-04-01T10:00");
        // Wall time across the weekend lost an hour, business time did not.
        assert_eq!(monday - friday, (2 * 24 + 17) * HOUR - HOUR);
        assert_eq!(business_ms_between(&cal, friday, monday), 2 * HOUR);
        // Monday 09:00 in Madrid is 07:00 UTC after the change (08:00 UTC before it).
        let due = deadline(&cal, friday, HOUR + 30 * MINUTE, &[]).unwrap();
        assert_eq!(due, at(&cal, "2024-04-01T09:30"));
        let utc: jiff::civil::DateTime = "2024-04-01T07:30".parse().unwrap();
        assert_eq!(
            due,
            TimeZone::UTC.to_timestamp(utc).unwrap().as_millisecond()
        );
        // A round-the-clock calendar does see the short day: 23 hours.
        let always = BusinessCalendar::new(
            "Europe/Madrid",
            std::array::from_fn(|_| vec![(0, DAY_MINUTES)]),
        )
        .unwrap();
        assert_eq!(
            business_ms_between(
                &always,
                at(&always, "2024-03-31T00:00"),
                at(&always, "2024-04-01T00:00")
            ),
            23 * HOUR
        );
    }

    #[test]
    fn sao_paulo_midnight_gap_counts_once() {
        // America/Sao_Paulo started DST at 00:00 on 2018-11-04: local midnight did not
        // exist and the Sunday began at 01:00.
        let always = BusinessCalendar::new(
            "America/Sao_Paulo",
            std::array::from_fn(|_| vec![(0, DAY_MINUTES)]),
        )
        .unwrap();
        let sat = at(&always, "2018-11-03T12:00");
        let mon = at(&always, "2018-11-05T12:00");
        assert_eq!(business_ms_between(&always, sat, mon), 47 * HOUR);
        assert_eq!(deadline(&always, sat, 47 * HOUR, &[]), Some(mon));
    }

    #[test]
    fn pending_pauses_the_clock() {
        let cal = office("UTC");
        let start = at(&cal, "2024-05-06T09:00");
        // Pending from 10:00 to 13:00: a 4 h target ends at 16:00, not 13:00.
        let pause = (at(&cal, "2024-05-06T10:00"), at(&cal, "2024-05-06T13:00"));
        assert_eq!(
            deadline(&cal, start, 4 * HOUR, &[pause]),
            Some(at(&cal, "2024-05-06T16:00"))
        );
        // A pause over the night costs no business time beyond its opening hours.
        let night = (at(&cal, "2024-05-06T17:00"), at(&cal, "2024-05-07T10:00"));
        assert_eq!(
            deadline(&cal, start, 9 * HOUR, &[night]),
            Some(at(&cal, "2024-05-07T11:00"))
        );
        // Overlapping and unordered pauses are merged.
        let a = (at(&cal, "2024-05-06T11:00"), at(&cal, "2024-05-06T12:00"));
        let b = (at(&cal, "2024-05-06T10:00"), at(&cal, "2024-05-06T11:30"));
        assert_eq!(
            deadline(&cal, start, 2 * HOUR, &[a, b]),
            Some(at(&cal, "2024-05-06T13:00"))
        );
    }

    #[test]
    fn a_calendar_that_never_opens_has_no_deadline() {
        let closed = BusinessCalendar::new("UTC", std::array::from_fn(|_| Vec::new())).unwrap();
        assert_eq!(deadline(&closed, 0, HOUR, &[]), None);
        assert!(BusinessCalendar::weekdays("Mars/Olympus", 0, 60).is_err());
        assert!(BusinessCalendar::weekdays("UTC", 600, 540).is_err());
        let overlapping = [
            vec![(540, 720), (700, 800)],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
        ];
        assert!(BusinessCalendar::new("UTC", overlapping).is_err());
    }

    #[test]
    fn state_counts_down_stands_still_while_pending_and_goes_negative_when_breached() {
        let config = SlaConfig::default();
        let cal = &config.calendar;
        let start = at(cal, "2024-05-06T09:00");
        let mut input = SlaInput {
            priority: Priority::Urgent,
            people_since: Some(start),
            first_response_at: None,
            resolved_at: None,
            pauses: Vec::new(),
        };
        let s = sla_state(&config, &input, start + 5 * MINUTE);
        let fr = s.first_response.clone().unwrap();
        assert_eq!(fr.due_at, Some(start + 15 * MINUTE));
        assert_eq!(fr.remaining_ms, Some(10 * MINUTE));
        assert!(!fr.breached);
        // Pending since 09:05: at 09:50 it still has ten minutes.
        input.pauses = vec![(start + 5 * MINUTE, None)];
        let s = sla_state(&config, &input, start + 50 * MINUTE);
        assert!(s.paused);
        assert_eq!(
            s.first_response.as_ref().unwrap().remaining_ms,
            Some(10 * MINUTE)
        );
        // The customer answered at 10:00; at 10:20 it is ten minutes late.
        input.pauses = vec![(start + 5 * MINUTE, Some(start + 60 * MINUTE))];
        let s = sla_state(&config, &input, start + 80 * MINUTE);
        let fr = s.first_response.unwrap();
        assert!(fr.breached);
        assert_eq!(fr.remaining_ms, Some(-10 * MINUTE));
        // Answered at 10:05: on time, and the clock stopped.
        input.first_response_at = Some(start + 65 * MINUTE);
        let s = sla_state(&config, &input, start + 80 * MINUTE);
        let fr = s.first_response.unwrap();
        assert!(!fr.breached);
        assert_eq!(fr.remaining_ms, None);
        // No people yet: no clocks.
        input.people_since = None;
        assert!(sla_state(&config, &input, start).first_response.is_none());
    }

    #[test]
    fn the_next_opening_is_now_while_open_and_the_next_range_otherwise() {
        let cal = office("UTC");
        // Open now: now.
        let tuesday_noon = at(&cal, "2024-05-07T12:00");
        assert_eq!(next_opening(&cal, tuesday_noon), Some(tuesday_noon));
        assert!(is_open(&cal, tuesday_noon));
        // The opening minute is open, the closing minute is not.
        let nine = at(&cal, "2024-05-07T09:00");
        assert_eq!(next_opening(&cal, nine), Some(nine));
        let six = at(&cal, "2024-05-07T18:00");
        assert!(!is_open(&cal, six));
        assert_eq!(next_opening(&cal, six), Some(at(&cal, "2024-05-08T09:00")));
        // Early morning: today at nine.
        assert_eq!(next_opening(&cal, at(&cal, "2024-05-07T06:30")), Some(nine));
        // Friday evening and the whole weekend: Monday at nine.
        for when in ["2024-05-03T18:30", "2024-05-04T10:00", "2024-05-05T23:59"] {
            assert_eq!(
                next_opening(&cal, at(&cal, when)),
                Some(at(&cal, "2024-05-06T09:00")),
                "{when}"
            );
        }
        // A lunch break: the afternoon range.
        let split = BusinessCalendar::new(
            "UTC",
            std::array::from_fn(|_| vec![(13 * 60, 17 * 60), (8 * 60, 12 * 60)]),
        )
        .unwrap();
        assert_eq!(
            next_opening(&split, at(&split, "2024-05-07T12:15")),
            Some(at(&split, "2024-05-07T13:00"))
        );
    }

    #[test]
    fn the_next_opening_skips_holidays_and_never_comes_for_a_closed_calendar() {
        let cal = office("UTC")
            .with_holiday("2024-05-06")
            .unwrap()
            .with_holiday("2024-05-07")
            .unwrap();
        assert_eq!(
            next_opening(&cal, at(&cal, "2024-05-03T19:00")),
            Some(at(&cal, "2024-05-08T09:00"))
        );
        assert!(!is_open(&cal, at(&cal, "2024-05-06T12:00")));
        let closed = BusinessCalendar::new("UTC", std::array::from_fn(|_| Vec::new())).unwrap();
        assert_eq!(next_opening(&closed, 0), None);
        assert!(!is_open(&closed, 0));
        assert!(is_open(&BusinessCalendar::always(), 1_715_000_000_000));
    }

    #[test]
    fn the_next_opening_keeps_local_time_across_clock_changes() {
        // Madrid moved to summer time on Sunday 2024-03-31: Monday 09:00 is 07:00 UTC,
        // where the Friday before it was 08:00 UTC.
        let madrid = office("Europe/Madrid");
        let monday = next_opening(&madrid, at(&madrid, "2024-03-29T20:00")).unwrap();
        let utc = |s: &str| {
            let dt: jiff::civil::DateTime = s.parse().unwrap();
            TimeZone::UTC.to_timestamp(dt).unwrap().as_millisecond()
        };
        assert_eq!(monday, utc("2024-04-01T07:00"));
        assert_eq!(
            next_opening(&madrid, at(&madrid, "2024-03-28T20:00")),
            Some(utc("2024-03-29T08:00"))
        );
        // And back to winter time on Sunday 2024-10-27: Monday 09:00 is 08:00 UTC.
        assert_eq!(
            next_opening(&madrid, at(&madrid, "2024-10-26T12:00")),
            Some(utc("2024-10-28T08:00"))
        );
        // Sao Paulo's Sunday 2018-11-04 had no midnight (clocks jumped from 00:00 to
        // 01:00): a calendar opening at midnight opens at 01:00 local, 03:00 UTC.
        let sunday_only = BusinessCalendar::new(
            "America/Sao_Paulo",
            std::array::from_fn(|d| {
                if d == 6 {
                    vec![(0, 12 * 60)]
                } else {
                    Vec::new()
                }
            }),
        )
        .unwrap();
        let saturday_night = at(&sunday_only, "2018-11-03T22:00");
        assert_eq!(
            next_opening(&sunday_only, saturday_night),
            Some(utc("2018-11-04T03:00"))
        );
    }

    #[test]
    fn targets_follow_priority() {
        let c = SlaConfig::default();
        assert_eq!(c.targets(Priority::Urgent).first_response_ms, 15 * MINUTE);
        assert_eq!(c.targets(Priority::High).resolution_ms, 8 * HOUR);
        assert_eq!(c.targets(Priority::None), c.targets(Priority::Medium));
        assert_eq!(c.targets(Priority::Low).resolution_ms, 72 * HOUR);
        assert_eq!(c.shortest().first_response_ms, 15 * MINUTE);
    }
}
