//! Visits, as every surface uses them (the agents' pages, the API, the portal): booking a
//! technician for a window of the business's local day, each later step (moved, arrived,
//! finished with its report, cancelled) under the portal crate's rules
//! (`switchboard_portal::visits`), the visit report's PDF, and the visit's card in the
//! request's conversation, which the client's ticket page follows live.
//!
//! Windows are typed and shown in the business's time zone (`business_hours.time_zone`)
//! and stored as instants. The store changes a visit once under a lock, the machine's
//! status following in the same transaction (`Store::change_visit`).
//!
//! Tests: e2e `equipment::a_technician_visits_and_the_client_follows_it`, browser
//! `equipment.test.mjs`.

use switchboard_core::domain::{Attachment, CardPayload};
use switchboard_core::realtime::Event;
use switchboard_core::sla::BusinessCalendar;
use switchboard_core::store::{Machine, NewVisit, Visit, VisitChange};
use switchboard_portal::document::Party;
use switchboard_portal::locale::{Lang, date, parse_date};
use switchboard_portal::visits::{
    self as rules, Part, Report, Step, VisitStatus, visit_error, visit_words,
};

use crate::kit::AppState;
use crate::kit::error::ApiError;

/// The business's calendar (its time zone), UTC when the setting cannot be read.
pub fn calendar(state: &AppState) -> BusinessCalendar {
    state
        .config
        .business_hours
        .calendar()
        .unwrap_or_else(|_| BusinessCalendar::always())
}

/// Today in the business's time zone (days since 1970-01-01).
pub fn today_local(state: &AppState, cal: &BusinessCalendar) -> i64 {
    let now = state.ids.now_ms();
    cal.local_day_minute(now)
        .map_or_else(|| now.div_euclid(86_400_000), |(day, _)| day)
}

/// An instant as people of `lang` read it in the business's zone: `2 dez 2026, 09:40`.
pub fn moment(cal: &BusinessCalendar, ms: i64, lang: Lang) -> String {
    match cal.local_day_minute(ms) {
        Some((day, minute)) => format!("{}, {}", date(day, lang), rules::hhmm(minute)),
        None => String::new(),
    }
}

/// A window as people of `lang` read it: `2 dez 2026, 09:00–12:00`.
pub fn when(cal: &BusinessCalendar, from: i64, to: i64, lang: Lang) -> String {
    match (cal.local_day_minute(from), cal.local_day_minute(to)) {
        (Some((day, a)), Some((end, b))) => {
            // A window that ends at midnight ends at 24:00 of its day.
            let b = if end == day + 1 && b == 0 { 1_440 } else { b };
            format!("{}, {}–{}", date(day, lang), rules::hhmm(a), rules::hhmm(b))
        }
        _ => String::new(),
    }
}

/// A visit as a page shows it.
#[derive(Debug, Clone)]
pub struct VisitView {
    pub id: String,
    pub number: i64,
    pub machine_id: String,
    /// `model · serial`.
    pub machine: String,
    pub company: String,
    pub status: String,
    pub status_word: &'static str,
    pub open: bool,
    pub technician: String,
    pub technician_id: String,
    pub when: String,
    /// The window's start as an instant, in ISO (for `<time>`).
    pub when_iso: String,
    pub arrived: String,
    pub finished: String,
    pub work_done: String,
    /// `(quantity, name)`.
    pub parts: Vec<(u32, String)>,
    pub signed_by: String,
    pub machine_after: &'static str,
    pub report: bool,
    pub version: i64,
    /// The window as typed into a form: `(YYYY-MM-DD, HH:MM, HH:MM)`.
    pub form: (String, String, String),
}

pub fn visit_view(v: &Visit, cal: &BusinessCalendar, lang: Lang) -> VisitView {
    let parts: Vec<Part> = serde_json::from_str(&v.parts).unwrap_or_default();
    let form = match (
        cal.local_day_minute(v.window_from),
        cal.local_day_minute(v.window_to),
    ) {
        (Some((day, a)), Some((end, b))) => (
            switchboard_portal::locale::iso_date(day),
            rules::hhmm(a),
            rules::hhmm(if end > day && b == 0 { 1_440 } else { b }),
        ),
        _ => Default::default(),
    };
    VisitView {
        id: v.id.clone(),
        number: v.number,
        machine_id: v.machine_id.clone(),
        machine: format!("{} · {}", v.model, v.serial),
        company: v.company.clone(),
        status: v.status.clone(),
        status_word: rules::status_word(&v.status, lang),
        open: VisitStatus::parse(&v.status).is_some_and(VisitStatus::is_open),
        technician: v.technician.clone(),
        technician_id: v.technician_id.clone(),
        when: when(cal, v.window_from, v.window_to, lang),
        when_iso: crate::kit::view::iso(v.window_from),
        arrived: v
            .arrived_at
            .map(|t| moment(cal, t, lang))
            .unwrap_or_default(),
        finished: v.done_at.map(|t| moment(cal, t, lang)).unwrap_or_default(),
        work_done: v.work_done.clone().unwrap_or_default(),
        parts: parts.into_iter().map(|p| (p.quantity, p.name)).collect(),
        signed_by: v.signed_by.clone().unwrap_or_default(),
        machine_after: v
            .machine_status
            .as_deref()
            .map(|s| crate::kit::machines::status_word(s, lang))
            .unwrap_or(""),
        report: v.status == "done",
        version: v.version,
        form,
    }
}

/// A booking as typed: the technician, the day (`YYYY-MM-DD`), the window's times, the
/// request it answers (its conversation's id), the form's key.
#[derive(Debug, Clone, Default)]
pub struct Booking {
    pub technician_id: String,
    pub date: String,
    pub from: String,
    pub to: String,
    pub conversation_id: Option<String>,
    pub key: String,
}

fn refused(e: &rules::VisitError, lang: Lang) -> ApiError {
    ApiError::Invalid(visit_error(e, lang))
}

fn bad_date(lang: Lang) -> ApiError {
    ApiError::Invalid(
        match lang {
            Lang::En => "the date is not a date (YYYY-MM-DD)",
            Lang::Es => "la fecha no es válida (AAAA-MM-DD)",
            Lang::PtBr => "a data não é válida (AAAA-MM-DD)",
        }
        .into(),
    )
}

fn no_technician(lang: Lang) -> ApiError {
    ApiError::Invalid(
        match lang {
            Lang::En => "choose a technician",
            Lang::Es => "elija un técnico",
            Lang::PtBr => "escolha um técnico",
        }
        .into(),
    )
}

/// The window typed, as instants in the business's zone.
fn instants(
    state: &AppState,
    date_text: &str,
    from: &str,
    to: &str,
    lang: Lang,
) -> Result<(i64, i64), ApiError> {
    let cal = calendar(state);
    let day = parse_date(date_text).ok_or_else(|| bad_date(lang))?;
    let w =
        rules::window(day, from, to, today_local(state, &cal)).map_err(|e| refused(&e, lang))?;
    match (
        cal.local_instant(w.day, w.from),
        cal.local_instant(w.day, w.to),
    ) {
        (Some(a), Some(b)) if b > a => Ok((a, b)),
        _ => Err(refused(&rules::VisitError::EndsBeforeStart, lang)),
    }
}

/// Books a visit to `machine` (which the caller was allowed to see); the same key again
/// is the visit booked then. Its card goes to the request's conversation.
pub async fn book(
    state: &AppState,
    by: &str,
    machine: &Machine,
    b: &Booking,
    lang: Lang,
) -> Result<(Visit, bool), ApiError> {
    if b.technician_id.trim().is_empty() {
        return Err(no_technician(lang));
    }
    let (from, to) = instants(state, &b.date, &b.from, &b.to, lang)?;
    let key = if b.key.trim().is_empty() {
        state.ids.new_id()
    } else {
        b.key.trim().chars().take(64).collect()
    };
    let (visit, fresh) = state
        .store
        .schedule_visit(
            &state.ids,
            &NewVisit {
                machine_id: &machine.id,
                conversation_id: b.conversation_id.as_deref().filter(|t| !t.is_empty()),
                technician_id: b.technician_id.trim(),
                window_from: from,
                window_to: to,
                key: &format!("{by}:{key}"),
                created_by: Some(by),
            },
        )
        .await
        .map_err(|e| match e {
            // The technician chosen is not one: the form's words, not a 404.
            switchboard_core::Error::NotFound(_) => no_technician(lang),
            e => e.into(),
        })?;
    if fresh {
        publish(state, &visit).await;
        crate::kit::notify::visit(state, &visit, "visit_scheduled").await;
    }
    Ok((visit, fresh))
}

/// A step as typed: moved (a new technician and window), arrived, finished (the report),
/// cancelled.
#[derive(Debug, Clone, Default)]
pub struct StepForm {
    pub version: Option<i64>,
    pub technician_id: String,
    pub date: String,
    pub from: String,
    pub to: String,
    pub work_done: String,
    pub parts: String,
    pub signed_by: String,
    pub machine_status: String,
}

/// Takes a visit (which the caller was allowed to see) one step on: checked against the
/// visit as it is now, once; a finished visit's report is made and kept. The card
/// follows.
pub async fn step(
    state: &AppState,
    v: &Visit,
    step: Step,
    f: &StepForm,
    lang: Lang,
) -> Result<Visit, ApiError> {
    let now = state.ids.now_ms();
    let window = if step == Step::Reschedule && !f.date.trim().is_empty() {
        Some(instants(state, &f.date, &f.from, &f.to, lang)?)
    } else {
        None
    };
    let report = if step == Step::Complete {
        Some(
            rules::report(&f.work_done, &f.parts, &f.signed_by, &f.machine_status)
                .map_err(|e| refused(&e, lang))?,
        )
    } else {
        None
    };
    let technician = (step == Step::Reschedule && !f.technician_id.trim().is_empty())
        .then(|| f.technician_id.trim().to_owned());
    let parts = match &report {
        Some(r) => Some(
            serde_json::to_string(&r.parts).map_err(|e| ApiError::Unavailable(e.to_string()))?,
        ),
        None => None,
    };
    let changed = state
        .store
        .change_visit(&state.ids, &v.id, f.version, |now_visit| {
            let status = VisitStatus::parse(&now_visit.status)
                .ok_or_else(|| switchboard_core::Error::invalid("unknown visit status"))?;
            let next = rules::next(status, step)
                .map_err(|e| switchboard_core::Error::Invalid(visit_error(&e, lang)))?;
            Ok(VisitChange {
                status: next.as_str().to_owned(),
                technician_id: technician.clone(),
                window,
                arrived_at: match step {
                    Step::Arrive => Some(now),
                    // Written up afterwards: it arrived when its window began.
                    Step::Complete if now_visit.arrived_at.is_none() => {
                        Some(now_visit.window_from.min(now))
                    }
                    _ => None,
                },
                done_at: (step == Step::Complete).then_some(now),
                work_done: report.as_ref().map(|r| r.work_done.clone()),
                parts: parts.clone(),
                signed_by: report.as_ref().map(|r| r.signed_by.clone()),
                machine_status: rules::machine_status(
                    step,
                    report.as_ref().map(|r| r.machine_status.as_str()),
                ),
            })
        })
        .await
        .map_err(|e| match e {
            switchboard_core::Error::NotFound(_) if technician.is_some() => no_technician(lang),
            e => e.into(),
        })?;
    let changed = if step == Step::Complete {
        match report_file(state, &changed).await {
            Ok(_) => state.store.visit(&changed.id).await?,
            Err(e) => {
                // The visit is done either way; the report is made again when asked for.
                tracing::warn!(visit = %changed.id, error = %e, "visit report not made");
                changed
            }
        }
    } else {
        changed
    };
    publish(state, &changed).await;
    match step {
        Step::Reschedule => crate::kit::notify::visit(state, &changed, "visit_scheduled").await,
        Step::Complete => {
            crate::kit::notify::visit(state, &changed, "visit_done").await;
            crate::kit::surveys::after_visit(state, &changed).await;
        }
        Step::Arrive | Step::Cancel => {}
    }
    Ok(changed)
}

/// The language a visit's report is written in: the request's client's, else the
/// machine's contract's contact's, else the first mailbox's.
async fn report_lang(state: &AppState, v: &Visit) -> Lang {
    let mut contact = None;
    if let Some(c) = &v.conversation_id
        && let Ok(Some((_, who))) = state.store.conversation_refs(c).await
    {
        contact = Some(who);
    }
    if contact.is_none()
        && let Ok(Some(c)) = state
            .store
            .contract_of_machine(&v.machine_id, crate::kit::billing::today(state))
            .await
    {
        contact = Some(c.contact_id);
    }
    if let Some(c) = contact
        && let Ok((Some(tag), _)) = state.store.contact_mail_preferences(&c).await
    {
        return Lang::from_tag(&tag);
    }
    state
        .email_sender
        .any_mailbox()
        .map_or(Lang::En, |m| Lang::from_tag(m.lang.html_tag()))
}

/// The visit report's file: the one kept, else made now (in the client's language) and
/// kept. Only a finished visit has one.
pub async fn report_file(state: &AppState, v: &Visit) -> Result<Attachment, ApiError> {
    if v.status != "done" {
        return Err(ApiError::NotFound(format!(
            "visit {} has no report yet",
            v.number
        )));
    }
    if let Some(a) = v
        .report
        .as_deref()
        .and_then(|j| serde_json::from_str::<Attachment>(j).ok())
    {
        return Ok(a);
    }
    let lang = report_lang(state, v).await;
    let w = visit_words(lang);
    let e = crate::kit::machines::eq_words(lang);
    let m = state.store.machine(&v.machine_id).await?;
    let cal = calendar(state);
    let client = Party {
        name: state
            .store
            .company_name(&v.company_id)
            .await?
            .unwrap_or_default(),
        address: m.location.iter().cloned().collect(),
        tax_id: String::new(),
    };
    let business = Party {
        name: state.config.web.business_name.clone(),
        address: state.config.portal.business_address.clone(),
        tax_id: state.config.portal.business_tax_id.clone(),
    };
    let mut machine = vec![(
        e.model.to_owned(),
        format!("{} {}", m.maker.clone().unwrap_or_default(), m.model)
            .trim()
            .to_owned(),
    )];
    machine.push((e.serial.to_owned(), m.serial.clone()));
    if let Some(t) = &m.asset_tag {
        machine.push((e.asset_tag.to_owned(), t.clone()));
    }
    if let Some(l) = &m.location {
        machine.push((e.location.to_owned(), l.clone()));
    }
    let request = match &v.conversation_id {
        Some(c) => state
            .store
            .conversation_refs(c)
            .await?
            .map(|(n, _)| format!("#{n}"))
            .unwrap_or_default(),
        None => String::new(),
    };
    let report = Report {
        work_done: v.work_done.clone().unwrap_or_default(),
        parts: serde_json::from_str(&v.parts).unwrap_or_default(),
        signed_by: v.signed_by.clone().unwrap_or_default(),
        machine_status: v.machine_status.clone().unwrap_or_default(),
    };
    let window = when(&cal, v.window_from, v.window_to, lang);
    let arrived = v
        .arrived_at
        .map(|t| moment(&cal, t, lang))
        .unwrap_or_default();
    let finished = v.done_at.map(|t| moment(&cal, t, lang)).unwrap_or_default();
    let after = crate::kit::machines::status_word(&report.machine_status, lang);
    let accent = state.config.web.accent.clone();
    let (number, technician) = (v.number, v.technician.clone());
    let bytes = tokio::task::spawn_blocking(move || {
        switchboard_portal::pdf::render_visit(&switchboard_portal::pdf::PdfVisit {
            lang,
            number,
            business: &business,
            accent: &accent,
            client: &client,
            machine: &machine,
            technician: &technician,
            window: &window,
            arrived: &arrived,
            finished: &finished,
            request: &request,
            report: &report,
            machine_after: after,
        })
    })
    .await
    .map_err(|e| ApiError::Unavailable(e.to_string()))?
    .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let name = format!(
        "{}-{}.pdf",
        w.report.to_lowercase().replace(' ', "-"),
        v.number
    );
    let a = crate::kit::uploads::store_file(
        state,
        std::io::Cursor::new(bytes),
        64 * 1024 * 1024,
        &name,
    )
    .await?;
    let json = serde_json::to_string(&a).map_err(|e| ApiError::Unavailable(e.to_string()))?;
    state.store.set_visit_report(&v.id, &json).await?;
    Ok(a)
}

/// The visit's card in its request's conversation (added, or updated in place), which
/// the agents' inbox and the client's ticket page follow live.
pub async fn publish(state: &AppState, v: &Visit) {
    let Some(conversation) = &v.conversation_id else {
        return;
    };
    let machine = format!("{} · {}", v.model, v.serial);
    let cal = calendar(state);
    let when = match (
        cal.local_day_minute(v.window_from),
        cal.local_day_minute(v.window_to),
    ) {
        (Some((day, a)), Some((_, b))) => format!(
            "{} {}–{}",
            switchboard_portal::locale::iso_date(day),
            rules::hhmm(a),
            rules::hhmm(b)
        ),
        _ => String::new(),
    };
    let payload = CardPayload::Visit {
        id: v.id.clone(),
        number: v.number,
        machine,
        technician: v.technician.clone(),
        window_from: v.window_from,
        window_to: v.window_to,
        status: v.status.clone(),
        when,
        report: v.status == "done",
    };
    match state
        .store
        .put_card(&state.ids, conversation, payload)
        .await
    {
        Ok((card, fresh, scope)) => {
            let event = if fresh {
                Event::CardAdded { scope, card }
            } else {
                Event::CardUpdated { scope, card }
            };
            if let Err(e) = state.realtime.publish(&event).await {
                tracing::debug!(error = %e, "realtime publish failed");
            }
        }
        Err(e) => tracing::warn!(visit = %v.id, error = %e, "visit card not posted"),
    }
}
