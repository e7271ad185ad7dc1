//! The supervisor dashboard: what is open now (by tier, channel and age), how fast people
//! answered and resolved over a window (median and 90th percentile, by tier, team and
//! agent), the SLA breaches of the window, and the new conversations per day and channel.
//!
//! Times are wall-clock milliseconds from when people took a conversation over (or its
//! opening, if they never did) to its first agent message or its resolution. Percentiles
//! are nearest-rank: the median of 1, 2, 3, 4 is 2. Days are local dates of the SLA
//! calendar's time zone; the window is the last `days` of them, today included.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::domain::Tier;
use crate::sla::BusinessCalendar;

const HOUR: i64 = 3_600_000;

/// The open conversations of one age range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgeBucket {
    /// `<1h`, `1-4h`, `4-24h`, `1-3d`, `>3d`.
    pub label: String,
    /// Ages from this (inclusive) …
    pub from_ms: i64,
    /// … to this (exclusive); `None` for the last range.
    pub to_ms: Option<i64>,
    pub count: i64,
}

/// Durations of one group (a tier, a team, an agent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeStats {
    /// The tier, the team (`""` for none), or the agent's id (`""` for nobody).
    pub key: String,
    /// What to show: the tier, the team (or "no team"), the agent's name or email.
    pub label: String,
    pub count: i64,
    pub median_ms: i64,
    pub p90_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Durations {
    /// All conversations of the window together; `None` when there were none.
    pub overall: Option<TimeStats>,
    pub by_tier: Vec<TimeStats>,
    pub by_team: Vec<TimeStats>,
    pub by_agent: Vec<TimeStats>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Breaches {
    pub first_response: i64,
    pub resolution: i64,
}

/// New conversations of one local day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayVolume {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub total: i64,
    pub by_channel: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dashboard {
    pub generated_at: i64,
    pub days: i64,
    /// The window's first instant (local midnight `days - 1` days ago).
    pub window_start: i64,
    pub time_zone: String,
    pub open_total: i64,
    /// Every tier, zero included.
    pub open_by_tier: BTreeMap<String, i64>,
    pub open_by_channel: BTreeMap<String, i64>,
    pub open_by_age: Vec<AgeBucket>,
    pub first_response: Durations,
    pub resolution: Durations,
    pub breaches: Breaches,
    /// One entry per day of the window, oldest first, days without any included.
    pub volume: Vec<DayVolume>,
}

/// One measured duration and whom it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Timing {
    pub tier: Tier,
    pub team: Option<String>,
    pub agent: Option<String>,
    pub ms: i64,
}

/// What the store reads for a dashboard, already limited to the caller's scope.
#[derive(Debug, Clone, Default)]
pub(crate) struct DashboardRows {
    /// Open conversations: (tier, channel, created_at).
    pub open: Vec<(Tier, String, i64)>,
    pub first_responses: Vec<Timing>,
    pub resolutions: Vec<Timing>,
    pub breaches: Breaches,
    /// Conversations opened in the window: (created_at, channel).
    pub created: Vec<(i64, String)>,
}

/// The nearest-rank percentile `p` (0-100) of sorted values.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = (n * p as usize).div_ceil(100).clamp(1, n);
    Some(sorted[rank - 1])
}

fn stats(key: String, label: String, mut values: Vec<i64>) -> Option<TimeStats> {
    values.sort_unstable();
    Some(TimeStats {
        median_ms: percentile(&values, 50)?,
        p90_ms: percentile(&values, 90)?,
        count: i64::try_from(values.len()).unwrap_or(i64::MAX),
        key,
        label,
    })
}

fn durations(timings: &[Timing], agent_label: &HashMap<String, String>) -> Durations {
    let group = |key_of: &dyn Fn(&Timing) -> String, label_of: &dyn Fn(&str) -> String| {
        let mut groups: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for t in timings {
            groups.entry(key_of(t)).or_default().push(t.ms);
        }
        groups
            .into_iter()
            .filter_map(|(k, v)| stats(k.clone(), label_of(&k), v))
            .collect::<Vec<_>>()
    };
    Durations {
        overall: stats(
            String::new(),
            "all".into(),
            timings.iter().map(|t| t.ms).collect(),
        ),
        by_tier: group(&|t| t.tier.as_str().to_owned(), &|k| k.to_owned()),
        by_team: group(&|t| t.team.clone().unwrap_or_default(), &|k| {
            if k.is_empty() {
                "no team".to_owned()
            } else {
                k.to_owned()
            }
        }),
        by_agent: group(&|t| t.agent.clone().unwrap_or_default(), &|k| {
            if k.is_empty() {
                "nobody".to_owned()
            } else {
                agent_label.get(k).cloned().unwrap_or_else(|| k.to_owned())
            }
        }),
    }
}

/// Counts open conversations by age.
pub fn age_buckets(now: i64, created: impl IntoIterator<Item = i64>) -> Vec<AgeBucket> {
    let limits: [(&str, i64, Option<i64>); 5] = [
        ("<1h", 0, Some(HOUR)),
        ("1-4h", HOUR, Some(4 * HOUR)),
        ("4-24h", 4 * HOUR, Some(24 * HOUR)),
        ("1-3d", 24 * HOUR, Some(72 * HOUR)),
        (">3d", 72 * HOUR, None),
    ];
    let mut out: Vec<AgeBucket> = limits
        .iter()
        .map(|(label, from, to)| AgeBucket {
            label: (*label).to_owned(),
            from_ms: *from,
            to_ms: *to,
            count: 0,
        })
        .collect();
    for at in created {
        let age = (now - at).max(0);
        if let Some(b) = out
            .iter_mut()
            .find(|b| age >= b.from_ms && b.to_ms.is_none_or(|to| age < to))
        {
            b.count += 1;
        }
    }
    out
}

pub(crate) fn assemble(
    rows: DashboardRows,
    now: i64,
    days: i64,
    window_start: i64,
    cal: &BusinessCalendar,
    agent_label: &HashMap<String, String>,
) -> Dashboard {
    let mut open_by_tier: BTreeMap<String, i64> = Tier::ALL
        .iter()
        .map(|t| (t.as_str().to_owned(), 0))
        .collect();
    let mut open_by_channel: BTreeMap<String, i64> = BTreeMap::new();
    for (tier, channel, _) in &rows.open {
        *open_by_tier.entry(tier.as_str().to_owned()).or_default() += 1;
        *open_by_channel.entry(channel.clone()).or_default() += 1;
    }
    let mut volume: Vec<DayVolume> = Vec::new();
    if let Some(mut day) = cal.local_date(window_start) {
        for _ in 0..days {
            volume.push(DayVolume {
                day: day.to_string(),
                total: 0,
                by_channel: BTreeMap::new(),
            });
            match day.tomorrow() {
                Ok(d) => day = d,
                Err(_) => break,
            }
        }
    }
    for (at, channel) in &rows.created {
        let Some(day) = cal.local_date(*at).map(|d| d.to_string()) else {
            continue;
        };
        if let Some(v) = volume.iter_mut().find(|v| v.day == day) {
            v.total += 1;
            *v.by_channel.entry(channel.clone()).or_default() += 1;
        }
    }
    Dashboard {
        generated_at: now,
        days,
        window_start,
        time_zone: cal.time_zone().to_owned(),
        open_total: i64::try_from(rows.open.len()).unwrap_or(i64::MAX),
        open_by_age: age_buckets(now, rows.open.iter().map(|(_, _, at)| *at)),
        open_by_tier,
        open_by_channel,
        first_response: durations(&rows.first_responses, agent_label),
        resolution: durations(&rows.resolutions, agent_label),
        breaches: rows.breaches,
        volume,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&v, 100), Some(10));
    }

    #[test]
    fn ages_fall_in_their_buckets_at_the_edges() {
        let now = 100 * HOUR;
        let b = age_buckets(
            now,
            [
                now,
                now - HOUR + 1,
                now - HOUR,
                now - 4 * HOUR,
                now - 24 * HOUR,
                now - 72 * HOUR + 1,
                now - 72 * HOUR,
            ],
        );
        let counts: Vec<i64> = b.iter().map(|b| b.count).collect();
        assert_eq!(counts, vec![2, 1, 1, 2, 1]);
    }

    #[test]
    fn durations_group_by_tier_team_and_agent() {
        let t = |tier, team: Option<&str>, agent: Option<&str>, ms| Timing {
            tier,
            team: team.map(str::to_owned),
            agent: agent.map(str::to_owned),
            ms,
        };
        let timings = [
            t(Tier::N1, None, Some("a"), 10),
            t(Tier::N1, Some("billing"), Some("a"), 30),
            t(Tier::N2, Some("billing"), None, 20),
        ];
        let labels: HashMap<String, String> = [("a".to_owned(), "Ana".to_owned())].into();
        let d = durations(&timings, &labels);
        assert_eq!(d.overall.as_ref().unwrap().median_ms, 20);
        assert_eq!(d.overall.as_ref().unwrap().p90_ms, 30);
        let tiers: Vec<(&str, i64, i64)> = d
            .by_tier
            .iter()
            .map(|s| (s.key.as_str(), s.count, s.median_ms))
            .collect();
        assert_eq!(tiers, vec![("N1", 2, 10), ("N2", 1, 20)]);
        let teams: Vec<&str> = d.by_team.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(teams, vec!["no team", "billing"]);
        let agents: Vec<&str> = d.by_agent.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(agents, vec!["nobody", "Ana"]);
    }
}
