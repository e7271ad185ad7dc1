//! The supervisor dashboard (admins and supervisors; read-only): what is open now, how
//! fast people answer and resolve, SLA breaches, and a chart of new conversations per day
//! and channel drawn as SVG on the server.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use switchboard_core::dashboard::{Dashboard, Durations, TimeStats};
use switchboard_core::domain::Role;

use crate::kit::AppState;
use crate::kit::i18n::Tr;
use crate::kit::page::{Page, WebError, render};
use crate::kit::session::WebAgent;

pub struct BarGroup {
    title: String,
    /// (label, value shown, width in percent)
    bars: Vec<(String, String, i64)>,
}

pub struct TimeTable {
    title: String,
    /// (group, first-response median, p90, resolution median, p90, count)
    rows: Vec<(String, String, String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    p: Page,
    window: String,
    tiles: Vec<(String, String)>,
    bar_groups: Vec<BarGroup>,
    chart_svg: String,
    legend: Vec<(String, &'static str)>,
    time_tables: Vec<TimeTable>,
}

#[derive(Debug, Deserialize)]
pub struct DashboardQuery {
    days: Option<i64>,
}

const CHANNEL_COLOURS: [(&str, &str); 4] = [
    ("webchat", "#2456c7"),
    ("email", "#0f8a6a"),
    ("whatsapp", "#b7791f"),
    ("portal", "#8a3ffc"),
];

fn bars(items: Vec<(String, i64)>, t: &Tr) -> Vec<(String, String, i64)> {
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    items
        .into_iter()
        .map(|(label, v)| {
            (
                label,
                t.number(v),
                (v * 100 / max).max(if v > 0 { 2 } else { 0 }),
            )
        })
        .collect()
}

fn time_table(t: &Tr, title: String, first: &[TimeStats], resolution: &[TimeStats]) -> TimeTable {
    let dash = || "—".to_owned();
    let mut keys: Vec<(String, String)> = first
        .iter()
        .chain(resolution)
        .map(|s| (s.key.clone(), s.label.clone()))
        .collect();
    keys.sort();
    keys.dedup_by(|a, b| a.0 == b.0);
    let rows = keys
        .into_iter()
        .map(|(key, label)| {
            let f = first.iter().find(|s| s.key == key);
            let r = resolution.iter().find(|s| s.key == key);
            let label = if label.is_empty() {
                "—".to_owned()
            } else {
                label
            };
            (
                label,
                f.map_or_else(dash, |s| t.duration(s.median_ms)),
                f.map_or_else(dash, |s| t.duration(s.p90_ms)),
                r.map_or_else(dash, |s| t.duration(s.median_ms)),
                r.map_or_else(dash, |s| t.duration(s.p90_ms)),
                t.number(f.map_or(0, |s| s.count).max(r.map_or(0, |s| s.count))),
            )
        })
        .collect();
    TimeTable { title, rows }
}

/// New conversations per day, stacked by channel, as an accessible SVG.
fn volume_chart(t: &Tr, d: &Dashboard) -> String {
    use crate::kit::http::html_escape as e;
    let (w, h, left, bottom, top) = (720.0_f64, 220.0_f64, 36.0_f64, 28.0_f64, 8.0_f64);
    let n = d.volume.len().max(1) as f64;
    let max = d.volume.iter().map(|v| v.total).max().unwrap_or(0).max(1) as f64;
    let slot = (w - left) / n;
    let bar = (slot * 0.7).max(2.0);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"vol-h vol-desc\"><desc id=\"vol-desc\">{}</desc>",
        e(&d.volume
            .iter()
            .map(|v| format!("{}: {}", v.day, v.total))
            .collect::<Vec<_>>()
            .join(", "))
    );
    svg.push_str(&format!(
        "<line class=\"axis\" x1=\"{left}\" y1=\"{y}\" x2=\"{w}\" y2=\"{y}\"/>",
        y = h - bottom
    ));
    for frac in [0.0, 1.0] {
        let y = h - bottom - (h - bottom - top) * frac;
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            y + 4.0,
            t.number((max * frac).round() as i64)
        ));
    }
    let label_every = (d.volume.len() / 8).max(1);
    for (i, day) in d.volume.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let mut y = h - bottom;
        for (channel, colour) in CHANNEL_COLOURS {
            let v = day.by_channel.get(channel).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let bh = (h - bottom - top) * v as f64 / max;
            y -= bh;
            svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{bh:.1}\" fill=\"{colour}\" rx=\"2\"><title>{} · {}: {v}</title></rect>",
                e(&day.day),
                e(channel)
            ));
        }
        if i % label_every == 0 {
            svg.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x + bar / 2.0,
                h - 8.0,
                e(day.day.get(5..).unwrap_or(&day.day))
            ));
        }
    }
    svg.push_str("</svg>");
    svg
}

fn durations_overall(d: &Durations) -> Option<&TimeStats> {
    d.overall.as_ref()
}

pub async fn page(
    State(state): State<AppState>,
    agent: WebAgent,
    Query(q): Query<DashboardQuery>,
) -> Result<Response, WebError> {
    if !matches!(agent.user.role, Role::Admin | Role::Supervisor) {
        return Err(WebError::Forbidden(agent.tr));
    }
    let t = agent.tr;
    let days = q.days.unwrap_or(14).clamp(1, 90);
    let d = state
        .workflow
        .dashboard(&agent.caller, state.ids.now_ms(), days)
        .await?;
    let p = Page::agent(&state, &agent, t.t("dashboard-title"), "dashboard").await?;
    let dur = |s: Option<&TimeStats>| s.map_or_else(|| "—".to_owned(), |s| t.duration(s.median_ms));
    let tiles = vec![
        (t.t("dash-open"), t.number(d.open_total)),
        (
            format!("{} · {}", t.t("dash-first-response"), t.t("dash-median")),
            dur(durations_overall(&d.first_response)),
        ),
        (
            format!("{} · {}", t.t("dash-resolution"), t.t("dash-median")),
            dur(durations_overall(&d.resolution)),
        ),
        (
            t.t("dash-breaches"),
            t.number(d.breaches.first_response + d.breaches.resolution),
        ),
    ];
    let bar_groups = vec![
        BarGroup {
            title: t.t("dash-by-tier"),
            bars: bars(
                d.open_by_tier
                    .iter()
                    .map(|(k, v)| (k.clone(), *v))
                    .collect(),
                &t,
            ),
        },
        BarGroup {
            title: t.t("dash-by-channel"),
            bars: bars(
                d.open_by_channel
                    .iter()
                    .map(|(k, v)| (t.t(&format!("channel-{k}")), *v))
                    .collect(),
                &t,
            ),
        },
        BarGroup {
            title: t.t("dash-by-age"),
            bars: bars(
                d.open_by_age
                    .iter()
                    .map(|b| (b.label.clone(), b.count))
                    .collect(),
                &t,
            ),
        },
    ];
    let time_tables = vec![
        time_table(
            &t,
            t.t("dash-per-tier"),
            &d.first_response.by_tier,
            &d.resolution.by_tier,
        ),
        time_table(
            &t,
            t.t("dash-per-team"),
            &d.first_response.by_team,
            &d.resolution.by_team,
        ),
        time_table(
            &t,
            t.t("dash-per-agent"),
            &d.first_response.by_agent,
            &d.resolution.by_agent,
        ),
    ];
    let legend = CHANNEL_COLOURS
        .iter()
        .map(|(c, colour)| (t.t(&format!("channel-{c}")), *colour))
        .collect();
    Ok(render(&DashboardPage {
        window: t.t1("dash-window", "days", days),
        chart_svg: volume_chart(&t, &d),
        p,
        tiles,
        bar_groups,
        legend,
        time_tables,
    }))
}
