//! The supervisor board (read-only; admins and supervisors see everything, a coordinator
//! its own companies): what is open now, how fast people answer and resolve, SLA
//! breaches, machines down, overdue invoices, readings missing, satisfaction, and a chart
//! of new conversations per day and channel drawn as SVG on the server.

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

/// One thing on the board's equipment and money lists.
pub struct BoardItem {
    href: Option<String>,
    title: String,
    detail: String,
    note: String,
}

/// A list of the board: machines down, overdue invoices or readings missing.
pub struct BoardList {
    id: &'static str,
    title: String,
    count: String,
    /// The first [`BOARD_SHOWN`].
    items: Vec<BoardItem>,
    /// "and 12 more", or empty.
    more: String,
}

const BOARD_SHOWN: usize = 10;

/// A table of survey results: (who, answers, CSAT satisfied %, CSAT average, NPS).
pub struct SurveyTable {
    title: String,
    rows: Vec<(String, String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    p: Page,
    window: String,
    tiles: Vec<(String, String)>,
    board_tiles: Vec<(String, String)>,
    board_lists: Vec<BoardList>,
    survey_tiles: Vec<(String, String)>,
    survey_tables: Vec<SurveyTable>,
    /// NPS by month, the last twelve: (month, NPS shown, bar height in percent of 100
    /// points from -100, CSAT % shown, answers).
    nps_history: Vec<(String, String, i64, String, String)>,
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

/// Adds answers up by whom they rate, in the order first seen.
fn tally<'a>(
    answers: impl IntoIterator<Item = (String, String, &'a switchboard_core::store::SurveyAnswer)>,
) -> Vec<(String, String, switchboard_portal::surveys::Results)> {
    let mut out: Vec<(String, String, switchboard_portal::surveys::Results)> = Vec::new();
    for (key, name, a) in answers {
        let i = match out.iter().position(|(k, _, _)| *k == key) {
            Some(i) => i,
            None => {
                out.push((key, name, Default::default()));
                out.len() - 1
            }
        };
        out[i].2.add(a.csat, a.nps);
    }
    out
}

fn percent(v: Option<i64>) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{v}%"))
}

/// An average kept in hundredths, shown with two decimals (`4.25`).
fn hundredths(v: Option<i64>) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{}.{:02}", v / 100, v % 100))
}

fn signed(v: Option<i64>) -> String {
    v.map_or_else(
        || "—".to_owned(),
        |v| {
            if v > 0 {
                format!("+{v}")
            } else {
                v.to_string()
            }
        },
    )
}

fn survey_table(
    t: &Tr,
    title: String,
    answers: &[switchboard_core::store::SurveyAnswer],
) -> SurveyTable {
    let mut rows = tally(
        answers
            .iter()
            .filter(|a| !a.key.is_empty())
            .map(|a| (a.key.clone(), a.name.clone(), a)),
    );
    rows.sort_by(|a, b| a.1.cmp(&b.1));
    let rows = rows
        .into_iter()
        .map(|(_, name, x)| {
            let name = if name.is_empty() {
                "—".to_owned()
            } else {
                name
            };
            (
                name,
                t.number(x.csat_answers.max(x.nps_answers)),
                percent(x.csat_percent()),
                hundredths(x.csat_average()),
                signed(x.nps()),
            )
        })
        .collect();
    SurveyTable { title, rows }
}

/// `YYYY-MM` of an instant (UTC).
fn month_of(ms: i64) -> String {
    let (y, m, _) = switchboard_portal::locale::civil(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}")
}

/// The month `back` months before `ms`'s (UTC): its first instant and its `YYYY-MM`.
fn month_back(ms: i64, back: i64) -> (i64, String) {
    use switchboard_portal::locale::{civil, day_of};
    let (y, m, _) = civil(ms.div_euclid(86_400_000));
    let months = y * 12 + i64::from(m) - 1 - back;
    let (y, m) = (months.div_euclid(12), months.rem_euclid(12) + 1);
    let m = u32::try_from(m).unwrap_or(1);
    (day_of(y, m, 1) * 86_400_000, format!("{y:04}-{m:02}"))
}

/// The satisfaction part: tiles for the window, tables per agent, technician, team and
/// company, and NPS with CSAT by month over the last twelve months.
async fn satisfaction(
    state: &AppState,
    agent: &WebAgent,
    now: i64,
    days: i64,
) -> Result<
    (
        Vec<(String, String)>,
        Vec<SurveyTable>,
        Vec<(String, String, i64, String, String)>,
    ),
    WebError,
> {
    use switchboard_core::store::SurveyGroup;
    let t = &agent.tr;
    let from = now - days * 86_400_000;
    let store = &state.store;
    // A year of answers by company: the history, and (the window being at most 90 days)
    // the window's total and company table.
    let year_ago = month_back(now, 11).0.min(from);
    let year = store
        .survey_answers(&agent.caller, SurveyGroup::Company, year_ago, now + 1)
        .await?;
    let window: Vec<_> = year
        .iter()
        .filter(|a| a.answered_at >= from)
        .cloned()
        .collect();
    let mut total = switchboard_portal::surveys::Results::default();
    for a in &window {
        total.add(a.csat, a.nps);
    }
    let tiles = vec![
        (t.t("dash-nps"), signed(total.nps())),
        (t.t("dash-csat"), percent(total.csat_percent())),
        (
            t.t("dash-answers"),
            t.number(total.csat_answers.max(total.nps_answers)),
        ),
    ];
    let mut tables = Vec::new();
    for (group, key) in [
        (SurveyGroup::Agent, "dash-per-agent"),
        (SurveyGroup::Technician, "dash-per-technician"),
        (SurveyGroup::Team, "dash-per-team"),
    ] {
        let answers = store
            .survey_answers(&agent.caller, group, from, now + 1)
            .await?;
        tables.push(survey_table(t, t.t(key), &answers));
    }
    tables.push(survey_table(t, t.t("dash-per-company"), &window));
    let months = tally(year.iter().map(|a| {
        let m = month_of(a.answered_at);
        (m.clone(), m, a)
    }));
    let history = (0..12)
        .rev()
        .map(|back| {
            let (_, key) = month_back(now, back);
            let x = months
                .iter()
                .find(|m| m.0 == key)
                .map(|m| m.2)
                .unwrap_or_default();
            let nps = x.nps();
            (
                key,
                signed(nps),
                nps.map_or(0, |n| (n + 100) / 2),
                percent(x.csat_percent()),
                t.number(x.csat_answers.max(x.nps_answers)),
            )
        })
        .collect();
    Ok((tiles, tables, history))
}

fn board_list(t: &Tr, id: &'static str, key: &str, mut items: Vec<BoardItem>) -> BoardList {
    let count = items.len();
    items.truncate(BOARD_SHOWN);
    BoardList {
        id,
        title: t.t(key),
        count: t.number(count as i64),
        items,
        more: if count > BOARD_SHOWN {
            t.t1("board-more", "n", (count - BOARD_SHOWN) as i64)
        } else {
            String::new()
        },
    }
}

/// Machines down, overdue invoices and readings missing, within the caller's companies:
/// the tiles and the lists.
async fn equipment_board(
    state: &AppState,
    agent: &WebAgent,
) -> Result<(Vec<(String, String)>, Vec<BoardList>), WebError> {
    use switchboard_portal::locale::{Lang, date};
    use switchboard_portal::overage::{needs_reading, reading_due};
    let t = &agent.tr;
    let lang = Lang::from_tag(t.lang());
    let today = crate::kit::billing::today(state);
    let rows = state.store.board_rows(&agent.caller, today).await?;
    let company = |id: &str| {
        rows.companies
            .iter()
            .find(|(c, _)| c == id)
            .map_or_else(String::new, |(_, n)| n.clone())
    };
    let machine_name = |m: &switchboard_core::store::Machine| match &m.asset_tag {
        Some(tag) => format!("{} · {} ({tag})", m.model, m.serial),
        None => format!("{} · {}", m.model, m.serial),
    };
    let down: Vec<BoardItem> = rows
        .machines_down
        .iter()
        .map(|m| BoardItem {
            href: Some(format!("/equipment/machines/{}", m.id)),
            title: machine_name(m),
            detail: [
                company(&m.company_id),
                m.location.clone().unwrap_or_default(),
            ]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · "),
            note: String::new(),
        })
        .collect();
    // What is owed, per currency, in the order the currencies first come.
    let mut owed: Vec<(String, i64)> = Vec::new();
    let money_of = |minor: i64, code: &str| crate::kit::billing::amount(minor, code, lang);
    let invoices_readable = matches!(agent.user.role, Role::Admin | Role::Supervisor);
    let overdue: Vec<BoardItem> = rows
        .overdue
        .iter()
        .map(|i| {
            let due = i.total - i.paid;
            match owed.iter_mut().find(|(c, _)| *c == i.currency) {
                Some(o) => o.1 += due,
                None => owed.push((i.currency.clone(), due)),
            }
            let late = today - i.due_day.unwrap_or(today);
            BoardItem {
                href: invoices_readable.then(|| format!("/billing/documents/{}", i.id)),
                title: format!("{} · {}", i.number, money_of(due, &i.currency)),
                detail: i.company_id.as_deref().map(company).unwrap_or_default(),
                note: t.t1("board-days-late", "days", late),
            }
        })
        .collect();
    let mut missing: Vec<(i64, BoardItem)> = Vec::new();
    for c in &rows.contracts {
        let Some(read_before) = c.read_before else {
            continue;
        };
        let every = crate::kit::equipment::every(c);
        let Some(due) = reading_due(c.start_day, every, c.end_day, read_before, today) else {
            continue;
        };
        if today < due.by {
            continue;
        }
        for s in rows.serving.iter().filter(|s| s.contract_id == c.id) {
            let last = rows
                .last
                .iter()
                .find(|r| r.machine_id == s.machine_id)
                .map(|r| r.day);
            if !needs_reading(last, due.by) {
                continue;
            }
            let Some(m) = rows.machines.iter().find(|m| m.id == s.machine_id) else {
                continue;
            };
            missing.push((
                due.by,
                BoardItem {
                    href: Some(format!("/equipment/machines/{}", m.id)),
                    title: machine_name(m),
                    detail: format!("{} · {}", company(&c.company_id), c.number),
                    note: t.t1("board-reading-by", "date", date(due.by, lang)),
                },
            ));
        }
    }
    missing.sort_by_key(|(by, _)| *by);
    let missing: Vec<BoardItem> = missing.into_iter().map(|(_, i)| i).collect();
    let owed_shown = if owed.is_empty() {
        "—".to_owned()
    } else {
        owed.iter()
            .map(|(c, v)| money_of(*v, c))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let tiles = vec![
        (t.t("board-machines-down"), t.number(down.len() as i64)),
        (t.t("board-overdue"), t.number(overdue.len() as i64)),
        (t.t("board-owed"), owed_shown),
        (
            t.t("board-readings-missing"),
            t.number(missing.len() as i64),
        ),
    ];
    let lists = vec![
        board_list(t, "machines-down", "board-machines-down", down),
        board_list(t, "overdue", "board-overdue", overdue),
        board_list(t, "readings-missing", "board-readings-missing", missing),
    ];
    Ok((tiles, lists))
}

fn durations_overall(d: &Durations) -> Option<&TimeStats> {
    d.overall.as_ref()
}

pub async fn page(
    State(state): State<AppState>,
    agent: WebAgent,
    Query(q): Query<DashboardQuery>,
) -> Result<Response, WebError> {
    if !matches!(
        agent.user.role,
        Role::Admin | Role::Supervisor | Role::Coordinator
    ) {
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
    let (board_tiles, board_lists) = equipment_board(&state, &agent).await?;
    let (survey_tiles, survey_tables, nps_history) =
        satisfaction(&state, &agent, state.ids.now_ms(), days).await?;
    let legend = CHANNEL_COLOURS
        .iter()
        .map(|(c, colour)| (t.t(&format!("channel-{c}")), *colour))
        .collect();
    Ok(render(&DashboardPage {
        window: t.t1("dash-window", "days", days),
        chart_svg: volume_chart(&t, &d),
        p,
        tiles,
        board_tiles,
        board_lists,
        survey_tiles,
        survey_tables,
        nps_history,
        bar_groups,
        legend,
        time_tables,
    }))
}
