//! A survey's page (`/survey/{token}`): the link only opens it. A GET (or HEAD, or a mail
//! scanner or a bot that follows links) shows the questions and records nothing, even with
//! a score in the link (`?csat=5` only preselects it); only the form's POST records the
//! answer, one kept per survey and changeable for a day. The link proves only that its
//! holder received it: it answers this survey and signs nobody in.
//!
//! Tests: e2e `surveys::a_survey_link_opens_and_only_its_form_records_once`.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use switchboard_core::store::Survey;
use switchboard_portal::locale::Lang;
use switchboard_portal::surveys::{
    CHANGE_MS, SurveyWords, answer, may_answer, survey_error, survey_words,
};

use super::Layout;
use crate::kit::AppState;
use crate::kit::auth::{pre_csrf, with_cookie};
use crate::kit::page::render;
use crate::kit::session::AnySession;

#[derive(Template)]
#[template(path = "portal/survey.html")]
struct SurveyPage {
    l: Layout,
    s: &'static SurveyWords,
    token: String,
    about: String,
    csat: Option<i64>,
    nps: Option<i64>,
    /// The scales' choices: (value, chosen).
    csat_opts: Vec<(i64, bool)>,
    nps_opts: Vec<(i64, bool)>,
    comment: String,
    /// Answered: the thanks, and whether it may still change.
    answered: bool,
    changeable: bool,
    closed: bool,
    error: Option<&'static str>,
}

#[derive(Debug, Deserialize, Default)]
pub struct Preselect {
    csat: Option<String>,
}

fn about(s: &Survey, w: &SurveyWords) -> String {
    let text = if s.visit_id.is_some() {
        w.about_visit
    } else {
        w.about_request
    };
    text.replace("{n}", &s.number.to_string())
}

fn page(
    state: &AppState,
    headers: &HeaderMap,
    session: &AnySession,
    s: &Survey,
    status: StatusCode,
    typed: (Option<i64>, Option<i64>, String),
    error: Option<&'static str>,
) -> Response {
    let lang = Lang::from_tag(&s.lang);
    let w = survey_words(lang);
    // The form's token is the one the guard will expect: the session's for a signed-in
    // visitor, else the pre-sign-in cookie's.
    let (csrf, set) = match &session.0 {
        Some(signed) => (signed.session.csrf_token.clone(), None),
        None => pre_csrf(headers),
    };
    let now = state.ids.now_ms();
    let answered = s.answered_at.is_some() && error.is_none();
    let page = SurveyPage {
        l: Layout::new(state, lang, w.title.to_owned(), csrf),
        s: w,
        token: s.token.clone(),
        about: about(s, w),
        csat: typed.0,
        nps: typed.1,
        csat_opts: (1..=5).map(|v| (v, typed.0 == Some(v))).collect(),
        nps_opts: (0..=10).map(|v| (v, typed.1 == Some(v))).collect(),
        comment: typed.2,
        answered,
        changeable: s.answered_at.is_some_and(|t| now - t <= CHANGE_MS),
        closed: may_answer(now, s.expires_at, s.answered_at).is_err() && error.is_none(),
        error,
    };
    with_cookie((status, render(&page)).into_response(), set)
}

async fn own(state: &AppState, headers: &HeaderMap, token: &str) -> Result<Survey, Response> {
    match state.store.survey_by_token(token).await {
        Ok(s) => Ok(s),
        Err(switchboard_core::Error::NotFound(_)) => {
            Err(super::not_found(state, crate::kit::words::lang_of(headers)))
        }
        Err(e) => Err(crate::kit::error::ApiError::from(e).into_response()),
    }
}

/// `GET /survey/{token}`: the survey, never an answer.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: AnySession,
    Path(token): Path<String>,
    Query(q): Query<Preselect>,
) -> Response {
    let s = match own(&state, &headers, &token).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let csat = q
        .csat
        .as_deref()
        .and_then(|c| c.parse::<i64>().ok())
        .filter(|c| (1..=5).contains(c))
        .or(s.csat);
    let typed = (csat, s.nps, s.comment.clone().unwrap_or_default());
    page(&state, &headers, &session, &s, StatusCode::OK, typed, None)
}

#[derive(Debug, Deserialize, Default)]
pub struct AnswerForm {
    #[serde(default)]
    csat: String,
    #[serde(default)]
    nps: String,
    #[serde(default)]
    comment: String,
}

/// `POST /survey/{token}`: the answer, kept once (changed within a day).
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: AnySession,
    Path(token): Path<String>,
    Form(f): Form<AnswerForm>,
) -> Response {
    let s = match own(&state, &headers, &token).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = Lang::from_tag(&s.lang);
    let typed = (
        f.csat.trim().parse().ok(),
        f.nps.trim().parse().ok(),
        f.comment.clone(),
    );
    let a = match answer(&f.csat, &f.nps, &f.comment) {
        Ok(a) => a,
        Err(e) => {
            let words = survey_error(&e, lang);
            return page(
                &state,
                &headers,
                &session,
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                typed,
                Some(words),
            );
        }
    };
    let now = state.ids.now_ms();
    let result = state
        .store
        .answer_survey(
            &state.ids,
            &token,
            a.csat,
            a.nps,
            a.comment.as_deref(),
            |now_survey| {
                may_answer(now, now_survey.expires_at, now_survey.answered_at)
                    .map_err(|e| survey_error(&e, lang).to_owned())
            },
        )
        .await;
    match result {
        Ok(answered) => {
            crate::kit::surveys::answered(&state, &answered).await;
            let typed = (
                answered.csat,
                answered.nps,
                answered.comment.clone().unwrap_or_default(),
            );
            page(
                &state,
                &headers,
                &session,
                &answered,
                StatusCode::OK,
                typed,
                None,
            )
        }
        Err(switchboard_core::Error::Invalid(_)) => {
            // Closed, or answered more than a day ago: the page says so, nothing changed.
            page(
                &state,
                &headers,
                &session,
                &s,
                StatusCode::CONFLICT,
                typed,
                None,
            )
        }
        Err(e) => crate::kit::error::ApiError::from(e).into_response(),
    }
}
