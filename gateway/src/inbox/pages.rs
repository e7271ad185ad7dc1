//! The inbox: views with counts, the conversation list (filters, sort, search, keyset
//! pages), the open conversation with its contact panel, and the actions on it.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_core::domain::{Channel, Conversation, Priority, Role, Status, Tier};
use switchboard_core::sla::SlaState;
use switchboard_core::store::{ListFilter, ListItem, ListQuery, SortBy, View};

use crate::kit::AppState;
use crate::kit::page::{Page, WebError, find, render, view_label, view_links};
use crate::kit::session::{WebAgent, WriterAgent};
use crate::kit::view::{self, CardView, MessageView, ThreadItem};

/// `mine`, `unassigned`, `all`, `team:NAME`, `tier:N2`; by default a support agent's own
/// conversations, everything for the others.
pub fn parse_view(s: Option<&str>, role: Role) -> View {
    s.and_then(|s| View::parse(s).ok())
        .unwrap_or(if role == Role::Support {
            View::Mine
        } else {
            View::All
        })
}

pub fn view_key(v: &View) -> String {
    v.key()
}

#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    view: Option<String>,
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    assignee: String,
    after: Option<String>,
    /// The conversation open beside the list (kept selected).
    open: Option<i64>,
}

impl ListParams {
    fn query(&self, role: Role) -> Result<ListQuery, WebError> {
        let statuses = match self.status.as_str() {
            "" => Vec::new(),
            "all" => vec![
                Status::Open,
                Status::Pending,
                Status::Snoozed,
                Status::Resolved,
            ],
            s => vec![Status::parse(s)?],
        };
        let filter = ListFilter {
            statuses,
            channel: (!self.channel.is_empty())
                .then(|| Channel::parse(&self.channel))
                .transpose()?,
            priority: (!self.priority.is_empty())
                .then(|| Priority::parse(&self.priority))
                .transpose()?,
            label: Some(self.label.trim().to_lowercase()).filter(|l| !l.is_empty()),
            search: Some(self.q.trim().to_owned()).filter(|q| !q.is_empty()),
            company_id: Some(self.company.clone()).filter(|c| !c.is_empty()),
            assignee_id: Some(self.assignee.clone()).filter(|a| !a.is_empty()),
        };
        Ok(ListQuery {
            view: parse_view(self.view.as_deref(), role),
            filter,
            sort: match self.sort.as_str() {
                "waiting" => SortBy::Waiting,
                "priority" => SortBy::Priority,
                _ => SortBy::LastActivity,
            },
            after: self.after.clone().filter(|a| !a.is_empty()),
            limit: 30,
        })
    }

    /// The query string of these filters (without the cursor).
    fn href_query(&self, view: &str) -> String {
        let mut pairs = vec![("view", view.to_owned())];
        for (k, v) in [
            ("q", &self.q),
            ("status", &self.status),
            ("channel", &self.channel),
            ("priority", &self.priority),
            ("sort", &self.sort),
            ("label", &self.label),
            ("company", &self.company),
            ("assignee", &self.assignee),
        ] {
            if !v.is_empty() {
                pairs.push((k, v.clone()));
            }
        }
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }
}

pub struct Filters {
    q: String,
    label: String,
    status_options: Vec<(String, String, bool)>,
    channel_options: Vec<(String, String, bool)>,
    priority_options: Vec<(String, String, bool)>,
    sort_options: Vec<(String, String, bool)>,
    company_options: Vec<(String, String, bool)>,
    assignee_options: Vec<(String, String, bool)>,
}

/// The choices of the company and assignee filters: the companies the agent may filter
/// by, and the active agents, by name.
async fn filter_choices(
    state: &AppState,
    agent: &WebAgent,
) -> Result<(Vec<(String, String)>, Vec<(String, String)>), WebError> {
    let companies = state.store.companies_for(&agent.caller).await?;
    let mut agents: Vec<(String, String)> = state
        .store
        .list_users()
        .await?
        .into_iter()
        .filter(|u| u.user.active && u.user.role.is_agent())
        .map(|u| {
            let name = view::display_name(&u.user);
            (u.user.id, name)
        })
        .collect();
    agents.sort_by_key(|a| a.1.to_lowercase());
    Ok((companies, agents))
}

fn filters(
    t: &crate::kit::i18n::Tr,
    p: &ListParams,
    companies: Vec<(String, String)>,
    agents: Vec<(String, String)>,
) -> Filters {
    let opt =
        |value: &str, label: String, current: &str| (value.to_owned(), label, value == current);
    Filters {
        q: p.q.clone(),
        label: p.label.clone(),
        status_options: vec![
            opt("", t.t("any-status"), &p.status),
            opt("open", t.t("status-open"), &p.status),
            opt("pending", t.t("status-pending"), &p.status),
            opt("snoozed", t.t("status-snoozed"), &p.status),
            opt("resolved", t.t("status-resolved"), &p.status),
            opt("all", t.t("status-all"), &p.status),
        ],
        channel_options: std::iter::once(opt("", t.t("any-channel"), &p.channel))
            .chain(
                [
                    Channel::Webchat,
                    Channel::Email,
                    Channel::Whatsapp,
                    Channel::Portal,
                ]
                .into_iter()
                .map(|c| opt(c.as_str(), view::channel_label(t, c), &p.channel)),
            )
            .collect(),
        priority_options: std::iter::once(opt("", t.t("any-priority"), &p.priority))
            .chain(
                [
                    Priority::Urgent,
                    Priority::High,
                    Priority::Medium,
                    Priority::Low,
                ]
                .into_iter()
                .map(|x| opt(x.as_str(), view::priority_label(t, x), &p.priority)),
            )
            .collect(),
        sort_options: vec![
            opt("", t.t("sort-activity"), &p.sort),
            opt("waiting", t.t("sort-waiting"), &p.sort),
            opt("priority", t.t("sort-priority"), &p.sort),
        ],
        company_options: std::iter::once(opt("", t.t("any-company"), &p.company))
            .chain(
                companies
                    .into_iter()
                    .map(|(id, name)| opt(&id, name, &p.company)),
            )
            .collect(),
        assignee_options: std::iter::once(opt("", t.t("any-assignee"), &p.assignee))
            .chain(
                agents
                    .into_iter()
                    .map(|(id, name)| opt(&id, name, &p.assignee)),
            )
            .collect(),
    }
}

/// A row of the list.
pub struct ItemView {
    number: i64,
    href: String,
    who: String,
    channel_icon: &'static str,
    channel_label: String,
    preview_html: String,
    when_iso: String,
    when_title: String,
    when_rel: String,
    when_ms: i64,
    status: String,
    status_label: String,
    priority: Option<(String, String)>,
    tier: String,
    sla: Option<SlaView>,
    unread: bool,
    selected: bool,
    assignee: Option<String>,
    labels: Vec<String>,
    /// A ticket a client opened from the portal.
    ticket: bool,
}

#[derive(Debug, Clone)]
pub struct SlaView {
    class: &'static str,
    label: String,
    title: String,
}

/// The SLA badge of a conversation: the first target still running.
fn sla_view(t: &crate::kit::i18n::Tr, sla: Option<&SlaState>) -> Option<SlaView> {
    let sla = sla?;
    let (remaining, which) = [
        (sla.first_response.as_ref(), "sla-first-response"),
        (sla.resolution.as_ref(), "sla-resolution"),
    ]
    .into_iter()
    .find_map(|(clock, name)| clock.and_then(|c| c.remaining_ms).map(|r| (r, name)))?;
    let which = t.t(which);
    Some(if remaining < 0 {
        SlaView {
            class: "sla-breach",
            label: t.duration(-remaining),
            title: format!(
                "{which}: {}",
                t.t1("sla-breached", "when", t.duration(-remaining))
            ),
        }
    } else {
        SlaView {
            class: if remaining < 15 * 60_000 {
                "sla-warn"
            } else {
                "sla-ok"
            },
            label: t.duration(remaining),
            title: format!(
                "{which}: {}",
                t.t1("sla-due", "when", t.relative(remaining))
            ),
        }
    })
}

fn item_view(
    sla: Option<&SlaState>,
    t: &crate::kit::i18n::Tr,
    it: &ListItem,
    now: i64,
    open: Option<i64>,
    query: &str,
    agents: &std::collections::HashMap<String, String>,
) -> ItemView {
    let c = &it.conversation;
    let who = view::contact_label(
        t,
        it.contact_name.as_deref(),
        it.contact_handle.as_deref(),
        c.number,
    );
    let preview_html = match &it.snippet {
        Some(s) => view::marked_snippet(&view::one_line(s, 200)),
        None => crate::kit::http::html_escape(&view::one_line(&it.preview, 140)),
    };
    ItemView {
        number: c.number,
        href: format!("/conversations/{}?{query}", c.number),
        who,
        channel_icon: view::channel_icon(c.channel),
        channel_label: view::channel_label(t, c.channel),
        preview_html,
        when_iso: view::iso(c.last_message_at),
        when_title: view::exact(c.last_message_at),
        when_rel: t.relative(c.last_message_at - now),
        when_ms: c.last_message_at,
        status: c.status.as_str().to_owned(),
        status_label: view::status_label(t, c.status),
        priority: view::priority_pill(t, c.priority),
        tier: c.tier.as_str().to_owned(),
        sla: sla_view(t, sla),
        unread: it.unread,
        selected: open == Some(c.number),
        assignee: c.assignee_id.as_ref().and_then(|a| agents.get(a).cloned()),
        labels: c.labels.clone(),
        ticket: switchboard_core::store::is_ticket(c),
    }
}

/// Names of agents by id, for lists and threads.
async fn agent_names(
    state: &AppState,
) -> Result<std::collections::HashMap<String, String>, WebError> {
    Ok(state
        .store
        .list_users()
        .await?
        .into_iter()
        .map(|u| {
            let name = view::display_name(&u.user);
            (u.user.id.clone(), name)
        })
        .collect())
}

struct ListData {
    items: Vec<ItemView>,
    next_href: Option<(String, String)>,
    empty_text: String,
    searching: bool,
    clear_href: String,
}

async fn list_data(
    state: &AppState,
    agent: &WebAgent,
    params: &ListParams,
    open: Option<i64>,
) -> Result<(ListData, String), WebError> {
    let q = params.query(agent.user.role)?;
    let key = view_key(&q.view);
    let page = state.store.inbox_list(&agent.caller, &q).await?;
    let now = state.ids.now_ms();
    let agents = agent_names(state).await?;
    let hq = params.href_query(&key);
    let convs: Vec<&Conversation> = page.items.iter().map(|i| &i.conversation).collect();
    let slas = state.workflow.sla_states(&convs, now).await?;
    let items = page
        .items
        .iter()
        .map(|it| {
            item_view(
                slas.get(&it.conversation.id),
                &agent.tr,
                it,
                now,
                open,
                &hq,
                &agents,
            )
        })
        .collect();
    let next_href = page.next.map(|n| {
        let cursor = serde_urlencoded::to_string([("after", n.as_str())]).unwrap_or_default();
        (
            format!("/conversations?{hq}&{cursor}"),
            format!("/conversations/list?{hq}&{cursor}"),
        )
    });
    let searching = q.filter.search.is_some();
    let empty_text = agent.tr.t(if searching {
        "empty-search"
    } else if q.view == View::Mine {
        "empty-mine"
    } else {
        "empty-view"
    });
    Ok((
        ListData {
            items,
            next_href,
            empty_text,
            searching,
            clear_href: format!(
                "/conversations?view={}",
                crate::kit::session::urlencode(&key)
            ),
        },
        key,
    ))
}

#[derive(Template)]
#[template(path = "conversations.html")]
struct ConversationsPage {
    p: Page,
    list_title: String,
    f: Filters,
    items: Vec<ItemView>,
    next_href: Option<(String, String)>,
    empty_text: String,
    searching: bool,
    clear_href: String,
    append: bool,
    conv: Option<ConvView>,
    thread: Vec<ThreadItem>,
}

pub async fn page(
    State(state): State<AppState>,
    agent: WebAgent,
    Query(params): Query<ListParams>,
) -> Result<Response, WebError> {
    render_page(&state, &agent, &params, None, None).await
}

async fn render_page(
    state: &AppState,
    agent: &WebAgent,
    params: &ListParams,
    conv: Option<(ConvView, Vec<ThreadItem>)>,
    status: Option<StatusCode>,
) -> Result<Response, WebError> {
    let open = conv.as_ref().map(|(c, _)| c.number);
    let (list, key) = list_data(state, agent, params, open).await?;
    let list_title = view_label(&agent.tr, &parse_view(Some(&key), agent.user.role));
    let title = match &conv {
        Some((c, _)) => format!("#{} {} · {list_title}", c.number, c.who),
        None => list_title.clone(),
    };
    let p = Page::agent(state, agent, title, &key).await?;
    let (conv, thread) = match conv {
        Some((c, t)) => (Some(c), t),
        None => (None, Vec::new()),
    };
    let (companies, agents) = filter_choices(state, agent).await?;
    let mut resp = render(&ConversationsPage {
        f: filters(&agent.tr, params, companies, agents),
        p,
        list_title,
        items: list.items,
        next_href: list.next_href,
        empty_text: list.empty_text,
        searching: list.searching,
        clear_href: list.clear_href,
        append: false,
        conv,
        thread,
    });
    if let Some(s) = status {
        *resp.status_mut() = s;
    }
    Ok(resp)
}

#[derive(Template)]
#[template(path = "_list.html")]
struct ListFragment {
    p: Page,
    items: Vec<ItemView>,
    next_href: Option<(String, String)>,
    empty_text: String,
    searching: bool,
    clear_href: String,
    append: bool,
}

pub async fn list_fragment(
    State(state): State<AppState>,
    agent: WebAgent,
    Query(params): Query<ListParams>,
) -> Result<Response, WebError> {
    let (list, _) = list_data(&state, &agent, &params, params.open).await?;
    let p = Page::anonymous(&state, agent.tr, String::new(), agent.csrf.clone());
    Ok(render(&ListFragment {
        p,
        items: list.items,
        next_href: list.next_href,
        empty_text: list.empty_text,
        searching: list.searching,
        clear_href: list.clear_href,
        append: params.after.is_some(),
    }))
}

#[derive(Template)]
#[template(path = "_views.html")]
struct ViewsFragment {
    p: Page,
}

#[derive(Debug, Deserialize)]
pub struct CurrentView {
    #[serde(default)]
    current: String,
}

pub async fn views_fragment(
    State(state): State<AppState>,
    agent: WebAgent,
    Query(q): Query<CurrentView>,
) -> Result<Response, WebError> {
    let mut p = Page::anonymous(&state, agent.tr, String::new(), agent.csrf.clone());
    p.views = view_links(&state, &agent, &q.current).await?;
    Ok(render(&ViewsFragment { p }))
}

/// The open conversation as the page shows it.
pub struct ConvView {
    number: i64,
    id: String,
    version: i64,
    contact_id: String,
    who: String,
    /// The conversation's subject (an email's), under the name.
    subject: Option<String>,
    initials: String,
    back_href: String,
    channel_icon: &'static str,
    channel_label: String,
    status: String,
    status_label: String,
    tier: String,
    priority: Option<(String, String)>,
    sla: Option<SlaView>,
    can_write: bool,
    assigned_to_me: bool,
    agents: Vec<(String, String, bool)>,
    priority_options: Vec<(String, String, bool)>,
    tier_up: Option<&'static str>,
    tier_down: Option<&'static str>,
    error: Option<String>,
    identities: Vec<IdentityView>,
    company: Option<String>,
    labels_text: String,
    /// Earlier conversations of the contact: number, status, its label, when.
    history: Vec<(i64, String, String, String)>,
    /// Articles for the client's latest message: id, title, link, the text the composer
    /// gets.
    suggestions: Vec<(String, String, String, String)>,
    /// That message, which "This answers it" teaches the bot.
    suggested_for: Option<String>,
    /// A WhatsApp conversation's reply window and, once it has closed, the templates.
    wa: Option<WaPane>,
    /// The company's machines the agent may see: id, model and serial, status, its word.
    machines: Vec<(String, String, String, &'static str)>,
    /// The machine request the conversation is: the machine's label, what is asked.
    request: Option<(String, String)>,
    /// The link form: the machine the client's words name (or the request's), what they
    /// seem to ask, the toner colours; the kinds and colours offered, in words.
    link_machine: String,
    link_kind: String,
    link_toner: Vec<String>,
    kinds: Vec<(&'static str, &'static str)>,
    toners: Vec<(&'static str, &'static str)>,
    eq: &'static crate::kit::machines::EqWords,
}

/// What the composer shows of WhatsApp's 24-hour window.
pub struct WaPane {
    /// How long the window stays open ("23 h 10 min"); `None` once it has closed.
    left: Option<String>,
    /// Approved templates: (`name|language`, the label, the body, the parameter count).
    templates: Vec<(String, String, String, i64)>,
}

/// The window of a WhatsApp conversation, with the templates once it has closed.
async fn wa_pane(state: &AppState, c: &Conversation, now: i64) -> Result<Option<WaPane>, WebError> {
    if c.channel != switchboard_core::domain::Channel::Whatsapp {
        return Ok(None);
    }
    let last = state.store.last_inbound_at(&c.id).await?;
    let left_ms = switchboard_channels::whatsapp::outbound::window_left(last, now);
    let left = (left_ms > 0).then(|| {
        let minutes = left_ms / 60_000;
        if minutes >= 60 {
            format!("{} h {} min", minutes / 60, minutes % 60)
        } else {
            format!("{} min", minutes.max(1))
        }
    });
    let templates = if left.is_none() {
        state
            .store
            .wa_templates(&c.inbox)
            .await?
            .into_iter()
            .filter(|t| t.status == "APPROVED")
            .map(|t| {
                (
                    format!("{}|{}", t.name, t.language),
                    format!("{} ({})", t.name, t.language),
                    t.body,
                    t.params,
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Some(WaPane { left, templates }))
}

pub struct IdentityView {
    icon: &'static str,
    value: String,
    verified: bool,
}

async fn conv_view(
    state: &AppState,
    agent: &WebAgent,
    c: &Conversation,
    back_query: &str,
    error: Option<String>,
) -> Result<(ConvView, Vec<ThreadItem>), WebError> {
    let t = &agent.tr;
    let now = state.ids.now_ms();
    let contact = state.store.contact_summary(&c.contact_id).await?;
    let identities = state.store.contact_identities(&c.contact_id).await?;
    let handle = identities.first().map(|(i, _)| i.value().to_owned());
    let who = view::contact_label(t, contact.name.as_deref(), handle.as_deref(), c.number);
    let sla = state
        .workflow
        .sla_state(&agent.caller, &c.id, now)
        .await
        .ok();
    let thread = thread_of(state, agent, c, &who, now).await?;
    let (suggestions, suggested_for) = suggestions(state, &thread).await;
    let wa = wa_pane(state, c, now).await?;
    let lang = switchboard_portal::locale::Lang::from_tag(t.lang());
    let company_machines = match &c.company_id {
        Some(company) => {
            state
                .store
                .machines_for_agent(&agent.caller, Some(company), 200)
                .await?
        }
        None => Vec::new(),
    };
    let machines = company_machines
        .iter()
        .map(|m| {
            let word = crate::kit::machines::status_word(&m.status, lang);
            (
                m.id.clone(),
                format!("{} · {}", m.model, m.serial),
                m.status.clone(),
                word,
            )
        })
        .collect();
    // The request the conversation is, else what the client's words name and ask.
    let request = state.store.conversation_request(&c.id).await?;
    let client_words: String = thread
        .iter()
        .filter_map(|i| match i {
            ThreadItem::Message(m) if m.class == "in" => Some(m.text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let known = crate::kit::machines::known(&company_machines);
    let asked = switchboard_portal::machines::asked(&client_words);
    let (link_machine, link_kind, link_toner) = match &request {
        Some(r) => (r.machine_id.clone(), r.kind.clone(), r.toner.clone()),
        None => (
            switchboard_portal::machines::named(&client_words, &known)
                .first()
                .map(|k| k.id.clone())
                .unwrap_or_default(),
            asked.kind.to_owned(),
            asked.toner.iter().map(|c| (*c).to_owned()).collect(),
        ),
    };
    let request = request.map(|r| {
        let label = company_machines
            .iter()
            .find(|m| m.id == r.machine_id)
            .map_or_else(String::new, |m| format!("{} · {}", m.model, m.serial));
        let mut what = crate::kit::machines::request_word(&r.kind, lang).to_owned();
        if !r.toner.is_empty() {
            let colours: Vec<&str> = r
                .toner
                .iter()
                .map(|c| crate::kit::machines::toner_word(c, lang))
                .collect();
            what = format!("{what} ({})", colours.join(", "));
        }
        (label, what)
    });
    let conv = ConvView {
        wa,
        machines,
        request,
        link_machine,
        link_kind,
        link_toner,
        kinds: crate::kit::machines::REQUESTS
            .iter()
            .map(|k| (*k, crate::kit::machines::request_word(k, lang)))
            .collect(),
        toners: crate::kit::machines::TONERS
            .iter()
            .map(|k| (*k, crate::kit::machines::toner_word(k, lang)))
            .collect(),
        eq: crate::kit::machines::eq_words(lang),
        number: c.number,
        id: c.id.clone(),
        version: c.version,
        contact_id: c.contact_id.clone(),
        initials: view::initials(&who),
        who,
        subject: c.subject.clone().filter(|s| !s.trim().is_empty()),
        back_href: format!("/conversations?{back_query}"),
        channel_icon: view::channel_icon(c.channel),
        channel_label: view::channel_label(t, c.channel),
        status: c.status.as_str().to_owned(),
        status_label: view::status_label(t, c.status),
        tier: c.tier.as_str().to_owned(),
        priority: view::priority_pill(t, c.priority),
        sla: sla_view(t, sla.as_ref()),
        can_write: agent.caller.may_write(&c.scope()),
        assigned_to_me: c.assignee_id.as_deref() == Some(agent.user.id.as_str()),
        agents: assignable_agents(state, c).await?,
        priority_options: priority_options(t, c.priority),
        tier_up: match c.tier {
            Tier::N1 => Some("N2"),
            Tier::N2 => Some("N3"),
            Tier::N3 => None,
        },
        tier_down: match c.tier {
            Tier::N1 => None,
            Tier::N2 => Some("N1"),
            Tier::N3 => Some("N2"),
        },
        error,
        identities: identity_views(&identities),
        company: contact.company_name,
        labels_text: c.labels.join(", "),
        history: history_of(state, agent, c, now).await?,
        suggestions,
        suggested_for,
    };
    Ok((conv, thread))
}

/// The thread as the agent sees it: messages and notes in order, with the cards
/// (invoices, tickets) posted to the conversation.
async fn thread_of(
    state: &AppState,
    agent: &WebAgent,
    c: &Conversation,
    who: &str,
    now: i64,
) -> Result<Vec<ThreadItem>, WebError> {
    let t = &agent.tr;
    let agents_by_id = agent_names(state).await?;
    let mut thread: Vec<ThreadItem> = Vec::new();
    let messages = state
        .store
        .messages_for(&agent.caller, &c.id, None, 1000)
        .await?;
    for m in &messages {
        thread.push(ThreadItem::Message(message_view(
            t,
            now,
            m,
            who,
            &agents_by_id,
        )));
    }
    view::link_replies(t, &mut thread, &messages);
    with_cards(state, t, &c.id, &mut thread).await?;
    Ok(thread)
}

/// Who the conversation can be assigned to, the current assignee marked.
async fn assignable_agents(
    state: &AppState,
    c: &Conversation,
) -> Result<Vec<(String, String, bool)>, WebError> {
    Ok(state
        .store
        .agents()
        .await?
        .into_iter()
        .filter(|u| matches!(u.role, Role::Support | Role::Coordinator | Role::Admin))
        .map(|u| {
            let cur = c.assignee_id.as_deref() == Some(u.id.as_str());
            (u.id.clone(), view::display_name(&u), cur)
        })
        .collect())
}

/// The contact's other conversations the agent may see (up to ten, latest first).
async fn history_of(
    state: &AppState,
    agent: &WebAgent,
    c: &Conversation,
    now: i64,
) -> Result<Vec<(i64, String, String, String)>, WebError> {
    let t = &agent.tr;
    Ok(state
        .store
        .conversations_for(
            &agent.caller,
            &switchboard_core::store::ConversationFilter {
                contact_id: Some(c.contact_id.clone()),
                limit: 10,
                ..Default::default()
            },
        )
        .await?
        .into_iter()
        .filter(|h| h.id != c.id)
        .map(|h| {
            (
                h.number,
                h.status.as_str().to_owned(),
                view::status_label(t, h.status),
                t.relative(h.last_message_at - now),
            )
        })
        .collect())
}

/// The priority menu, the current one selected.
fn priority_options(t: &crate::kit::i18n::Tr, current: Priority) -> Vec<(String, String, bool)> {
    [
        Priority::Urgent,
        Priority::High,
        Priority::Medium,
        Priority::Low,
        Priority::None,
    ]
    .into_iter()
    .map(|x| {
        (
            x.as_str().to_owned(),
            view::priority_label(t, x),
            x == current,
        )
    })
    .collect()
}

/// The contact's addresses and numbers, each with its channel's icon and whether it
/// was proven.
fn identity_views(identities: &[(switchboard_core::domain::Identity, bool)]) -> Vec<IdentityView> {
    identities
        .iter()
        .map(|(i, verified)| IdentityView {
            icon: match i.kind().as_str() {
                "email" => "i-mail",
                "whatsapp" | "phone" => "i-whatsapp",
                _ => "i-user",
            },
            value: view::short_identity(i.value()),
            verified: *verified,
        })
        .collect()
}

fn message_view(
    t: &crate::kit::i18n::Tr,
    now: i64,
    m: &switchboard_core::domain::Message,
    who: &str,
    agents: &std::collections::HashMap<String, String>,
) -> Box<MessageView> {
    Box::new(view::message_view(
        t,
        now,
        m,
        who,
        |id| agents.get(id).cloned(),
        m.internal,
    ))
}

pub async fn conversation_page(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(number): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Response, WebError> {
    let c = find(&state, &agent, &number).await?;
    state
        .store
        .mark_read(&agent.user.id, &c.id, state.ids.now_ms())
        .await?;
    crate::kit::whatsapp::seen(&state, &c, false);
    let key = view_key(&params.query(agent.user.role)?.view);
    let conv = conv_view(&state, &agent, &c, &params.href_query(&key), None).await?;
    render_page(&state, &agent, &params, Some(conv), None).await
}

#[derive(Template)]
#[template(path = "_thread.html")]
struct ThreadFragment {
    p: Page,
    thread: Vec<ThreadItem>,
}

#[derive(Debug, Deserialize)]
pub struct AfterQuery {
    after: Option<String>,
}

/// Articles (internal ones too: agents may read them) for the client's latest message.
type Suggestions = (Vec<(String, String, String, String)>, Option<String>);

async fn suggestions(state: &AppState, thread: &[ThreadItem]) -> Suggestions {
    let Some(kb) = state.kb.get().cloned() else {
        return (Vec::new(), None);
    };
    let Some((message, text)) = thread.iter().rev().find_map(|i| match i {
        ThreadItem::Message(m) if m.class == "in" && !m.text.trim().is_empty() => {
            Some((m.id.clone(), m.text.chars().take(500).collect::<String>()))
        }
        _ => None,
    }) else {
        return (Vec::new(), None);
    };
    let base = state.config.public_url.trim_end_matches('/').to_owned();
    let hits = tokio::task::spawn_blocking(move || {
        kb.index.search(&switchboard_kb::SearchQuery {
            limit: 3,
            ..switchboard_kb::SearchQuery::new(&text, switchboard_kb::Audience::Agent)
        })
    })
    .await;
    match hits {
        Ok(Ok(hits)) => (
            hits.into_iter()
                .map(|h| {
                    let url = format!("{base}/help/{}/{}", h.lang, h.slug);
                    let insert = if h.status == "published" {
                        format!("{}: {url}", h.title)
                    } else {
                        h.snippet.clone()
                    };
                    (h.id, h.title, url, insert)
                })
                .collect(),
            Some(message),
        ),
        _ => (Vec::new(), None),
    }
}

/// Puts the conversation's cards in the thread where they were posted.
async fn with_cards(
    state: &AppState,
    t: &crate::kit::i18n::Tr,
    conversation_id: &str,
    thread: &mut Vec<ThreadItem>,
) -> Result<(), WebError> {
    for card in state.store.stored_cards(conversation_id).await? {
        let v: CardView = match &card.card {
            Some(k) => view::card_view(t, k),
            None => view::generic_card_view(t, &card.id, &card.kind, &card.payload),
        };
        let pos = thread
            .iter()
            .position(|i| matches!(i, ThreadItem::Message(m) if m.when_ms > card.created_at))
            .unwrap_or(thread.len());
        thread.insert(pos, ThreadItem::Card(v));
    }
    Ok(())
}

pub async fn thread_fragment(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(number): Path<String>,
    Query(q): Query<AfterQuery>,
) -> Result<Response, WebError> {
    let c = find(&state, &agent, &number).await?;
    let now = state.ids.now_ms();
    let contact = state.store.contact_summary(&c.contact_id).await?;
    let handle = state
        .store
        .contact_identities(&c.contact_id)
        .await?
        .first()
        .map(|(i, _)| i.value().to_owned());
    let who = view::contact_label(
        &agent.tr,
        contact.name.as_deref(),
        handle.as_deref(),
        c.number,
    );
    let agents = agent_names(&state).await?;
    let messages = state
        .store
        .messages_for(
            &agent.caller,
            &c.id,
            q.after.as_deref().filter(|a| !a.is_empty()),
            500,
        )
        .await?;
    let mut thread: Vec<ThreadItem> = messages
        .iter()
        .map(|m| ThreadItem::Message(message_view(&agent.tr, now, m, &who, &agents)))
        .collect();
    // A quote of a message shown before this fragment is looked up in the whole thread.
    let quotes = messages
        .iter()
        .any(|m| m.content.as_ref().is_some_and(|c| c.reply_to.is_some()));
    if quotes && q.after.as_deref().is_some_and(|a| !a.is_empty()) {
        let whole = state
            .store
            .messages_for(&agent.caller, &c.id, None, 1000)
            .await?;
        view::link_replies(&agent.tr, &mut thread, &whole);
    } else {
        view::link_replies(&agent.tr, &mut thread, &messages);
    }
    // The cards come along: the page replaces those it shows (an invoice turned Paid)
    // and adds the new ones.
    with_cards(&state, &agent.tr, &c.id, &mut thread).await?;
    state.store.mark_read(&agent.user.id, &c.id, now).await?;
    crate::kit::whatsapp::seen(&state, &c, false);
    let p = Page::anonymous(&state, agent.tr, String::new(), agent.csrf.clone());
    Ok(render(&ThreadFragment { p, thread }))
}

#[derive(Template)]
#[template(path = "conv_pane.html")]
struct ConvPane {
    p: Page,
    c: ConvView,
    thread: Vec<ThreadItem>,
}

fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// After an action: the pane again (htmx), or the page (a plain form post).
async fn after_action(
    state: &AppState,
    agent: &WebAgent,
    headers: &HeaderMap,
    number: &str,
    outcome: switchboard_core::Result<()>,
) -> Result<Response, WebError> {
    let (error, status) = match outcome {
        Ok(()) => (None, StatusCode::OK),
        Err(switchboard_core::Error::Conflict(_)) => {
            (Some(agent.tr.t("conflict")), StatusCode::CONFLICT)
        }
        Err(switchboard_core::Error::Invalid(m)) => (Some(m), StatusCode::UNPROCESSABLE_ENTITY),
        Err(switchboard_core::Error::Forbidden(_)) => return Err(WebError::Forbidden(agent.tr)),
        Err(switchboard_core::Error::NotFound(_)) => return Err(WebError::NotFound(agent.tr)),
        Err(e) => return Err(e.into()),
    };
    let c = match find(state, agent, number).await {
        Ok(c) => c,
        // The change took it out of the caller's reach (escalated above its tier,
        // assigned away): back to the list.
        Err(WebError::NotFound(_)) if error.is_none() => {
            return Ok(if is_htmx(headers) {
                ([("hx-redirect", "/conversations")], StatusCode::OK).into_response()
            } else {
                Redirect::to("/conversations").into_response()
            });
        }
        Err(e) => return Err(e),
    };
    if !is_htmx(headers) && error.is_none() {
        return Ok(Redirect::to(&format!("/conversations/{number}")).into_response());
    }
    let (cv, thread) = conv_view(state, agent, &c, "view=", error).await?;
    if is_htmx(headers) {
        let p = Page::anonymous(state, agent.tr, String::new(), agent.csrf.clone());
        let mut resp = render(&ConvPane { p, c: cv, thread });
        *resp.status_mut() = status;
        Ok(resp)
    } else {
        render_page(
            state,
            agent,
            &ListParams::default(),
            Some((cv, thread)),
            Some(status),
        )
        .await
    }
}

#[derive(Debug, Deserialize)]
pub struct MessageForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    mode: String,
    /// A WhatsApp template, `name|language`, with its parameters one per line.
    #[serde(default)]
    template: String,
    #[serde(default)]
    params: String,
}

pub async fn post_message(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): Form<MessageForm>,
) -> Result<Response, WebError> {
    let c = find(&state, &agent, &number).await?;
    let text = form.text.trim();
    let template =
        form.template
            .split_once('|')
            .map(|(name, language)| switchboard_core::domain::Template {
                name: name.to_owned(),
                language: language.to_owned(),
                params: form
                    .params
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
            });
    if text.is_empty() && template.is_none() {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            agent.tr.t("composer-empty"),
        )
            .into_response());
    }
    let message = if form.mode == "note" {
        state.workflow.add_note(&agent.caller, &c.id, text).await
    } else {
        // The channel's rules first (WhatsApp's window, its templates).
        let extras = crate::kit::whatsapp::Extras {
            template,
            ..Default::default()
        };
        let prepared = crate::kit::whatsapp::prepare_reply(&state, &c, text, extras)
            .await
            .map_err(|e| switchboard_core::Error::invalid(e.to_string()));
        let queued = match prepared {
            Ok((text, content)) => {
                state
                    .workflow
                    .reply_with(&agent.caller, &state.outbox, &c.id, &text, content, None)
                    .await
            }
            Err(e) => Err(e),
        };
        match queued {
            Ok(
                switchboard_core::store::Queued::New(m, _)
                | switchboard_core::store::Queued::Seen(m),
            ) => Ok(m),
            Ok(switchboard_core::store::Queued::BotSilenced) => Err(
                switchboard_core::Error::Conflict("the reply was taken for the bot's".into()),
            ),
            Err(e) => Err(e),
        }
    };
    let message = match message {
        Ok(m) => m,
        Err(e) => return after_action(&state, &agent, &headers, &number, Err(e)).await,
    };
    if !is_htmx(&headers) {
        return Ok(Redirect::to(&format!("/conversations/{number}")).into_response());
    }
    let agents = agent_names(&state).await?;
    let now = state.ids.now_ms();
    let p = Page::anonymous(&state, agent.tr, String::new(), agent.csrf.clone());
    let thread = vec![ThreadItem::Message(message_view(
        &agent.tr, now, &message, "", &agents,
    ))];
    Ok(render(&ThreadFragment { p, thread }))
}

#[derive(Debug, Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    assignee: String,
    version: Option<i64>,
}

pub async fn assign(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): Form<AssignForm>,
) -> Result<Response, WebError> {
    let c = find(&state, &agent, &number).await?;
    let to = Some(form.assignee).filter(|a| !a.is_empty());
    let outcome = state
        .workflow
        .assign(&agent.caller, &c.id, to.as_deref(), form.version)
        .await
        .map(|_| ());
    after_action(&state, &agent, &headers, &number, outcome).await
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    status: String,
    version: Option<i64>,
}

pub async fn set_status(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): Form<StatusForm>,
) -> Result<Response, WebError> {
    let c = find(&state, &agent, &number).await?;
    let outcome = match Status::parse(&form.status) {
        Ok(s) => state
            .workflow
            .change(
                &agent.caller,
                &c.id,
                &switchboard_core::changes::Change::Status(s),
                form.version,
            )
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    after_action(&state, &agent, &headers, &number, outcome).await
}

#[derive(Debug, Deserialize)]
pub struct SnoozeForm {
    hours: i64,
    version: Option<i64>,
}

pub async fn snooze(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): Form<SnoozeForm>,
) -> Result<Response, WebError> {
    let c = find(&state, &agent, &number).await?;
    let outcome = if (1..=24 * 90).contains(&form.hours) {
        let until = state.ids.now_ms() + form.hours * 3_600_000;
        state
            .workflow
            .snooze(&agent.caller, &c.id, until, form.version)
            .await
            .map(|_| ())
    } else {
        Err(switchboard_core::Error::invalid(
            "snooze for 1 hour to 90 days",
        ))
    };
    after_action(&state, &agent, &headers, &number, outcome).await
}

#[derive(Debug, Deserialize)]
pub struct PriorityForm {
    priority: String,
    version: Option<i64>,
}

pub async fn set_priority(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): Form<PriorityForm>,
) -> Result<Response, WebError> {
    let c = find(&state, &agent, &number).await?;
    let outcome = match Priority::parse(&form.priority) {
        Ok(p) => state
            .workflow
            .change(
                &agent.caller,
                &c.id,
                &switchboard_core::changes::Change::Priority(p),
                form.version,
            )
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    after_action(&state, &agent, &headers, &number, outcome).await
}

#[derive(Debug, Deserialize)]
pub struct TierForm {
    /// `up` (escalate) or `down` (de-escalate).
    #[serde(default)]
    direction: String,
    #[serde(default)]
    reason: String,
    version: Option<i64>,
}

pub async fn set_tier(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): Form<TierForm>,
) -> Result<Response, WebError> {
    let c = find(&state, &agent, &number).await?;
    let reason = form.reason.trim();
    let outcome = if reason.is_empty() {
        Err(switchboard_core::Error::invalid(
            agent.tr.t("escalate-reason-missing"),
        ))
    } else if form.direction == "down" {
        state
            .workflow
            .de_escalate(&agent.caller, &c.id, reason, form.version)
            .await
            .map(|_| ())
    } else {
        state
            .workflow
            .escalate(&agent.caller, &c.id, reason, form.version)
            .await
            .map(|_| ())
    };
    after_action(&state, &agent, &headers, &number, outcome).await
}

#[derive(Debug, Deserialize)]
pub struct LabelsForm {
    #[serde(default)]
    labels: String,
    version: Option<i64>,
}

pub async fn set_labels(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): Form<LabelsForm>,
) -> Result<Response, WebError> {
    let c = find(&state, &agent, &number).await?;
    let labels: Vec<String> = form
        .labels
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let outcome = state
        .workflow
        .change(
            &agent.caller,
            &c.id,
            &switchboard_core::changes::Change::Labels(labels),
            form.version,
        )
        .await
        .map(|_| ());
    after_action(&state, &agent, &headers, &number, outcome).await
}

#[derive(Debug, Deserialize)]
pub struct MergeForm {
    /// The number of the conversation to merge into the one in the path.
    #[serde(default)]
    from: String,
}

/// Merges another conversation of the same contact into this one: both must be in the
/// agent's scope and writable (the workflow checks the second one).
pub async fn merge_conversation(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): Form<MergeForm>,
) -> Result<Response, WebError> {
    let target = find(&state, &agent, &number).await?;
    let source = find(&state, &agent, &form.from).await?;
    let outcome = state
        .workflow
        .merge_conversations(&agent.caller, &source.id, &target.id)
        .await
        .map(|_| ());
    after_action(&state, &agent, &headers, &number, outcome).await
}

#[derive(Debug, Deserialize)]
pub struct ContactQuery {
    #[serde(default)]
    q: String,
}

#[derive(Template)]
#[template(path = "_contact_matches.html")]
struct ContactMatches {
    p: Page,
    number: i64,
    matches: Vec<(String, String, String)>,
    searched: bool,
}

/// Contacts the agent may see that match a name, address or number: candidates to merge
/// into this conversation's contact.
pub async fn contact_matches(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(number): Path<String>,
    Query(q): Query<ContactQuery>,
) -> Result<Response, WebError> {
    let c = find(&state, &agent, &number).await?;
    let hits = state
        .store
        .search_contacts(&agent.caller, &q.q, 8)
        .await?
        .into_iter()
        .filter(|h| h.contact_id != c.contact_id)
        .map(|h| {
            let detail = h
                .identities
                .iter()
                .map(|i| i.value().to_owned())
                .chain(h.company_name.clone())
                .collect::<Vec<_>>()
                .join(" · ");
            (h.contact_id, h.name.unwrap_or_default(), detail)
        })
        .collect();
    let p = Page::anonymous(&state, agent.tr, String::new(), agent.csrf.clone());
    Ok(render(&ContactMatches {
        p,
        number: c.number,
        matches: hits,
        searched: !q.q.trim().is_empty(),
    }))
}

#[derive(Debug, Deserialize)]
pub struct MergeContactForm {
    /// The contact to merge into this conversation's contact.
    #[serde(default)]
    contact: String,
}

/// Merges another contact (the same person, written from another address) into the
/// contact of this conversation. The workflow checks the other contact's scope.
pub async fn merge_contact(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): Form<MergeContactForm>,
) -> Result<Response, WebError> {
    let c = find(&state, &agent, &number).await?;
    let outcome = state
        .workflow
        .merge_contacts(&agent.caller, &form.contact, &c.contact_id)
        .await
        .map(|_| ());
    after_action(&state, &agent, &headers, &number, outcome).await
}

pub async fn bulk(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    use switchboard_core::changes::Change;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let action = pairs
        .iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let change = match action {
        "assign_me" => Change::Assignee(Some(agent.user.id.clone())),
        "resolve" => Change::Status(Status::Resolved),
        "pending" => Change::Status(Status::Pending),
        "open" => Change::Status(Status::Open),
        "priority_high" => Change::Priority(Priority::High),
        _ => return Ok((StatusCode::UNPROCESSABLE_ENTITY, "unknown action").into_response()),
    };
    let mut ids = Vec::new();
    for (_, n) in pairs.iter().filter(|(k, _)| k == "n").take(200) {
        if let Ok(n) = n.parse::<i64>()
            && let Ok(c) = state
                .store
                .conversation_by_number_for(&agent.caller, n)
                .await
        {
            ids.push(c.id);
        } else {
            ids.push(format!("#{n}"));
        }
    }
    let results = state.workflow.bulk(&agent.caller, &ids, &change).await?;
    let ok = results.iter().filter(|r| r.outcome.is_ok()).count();
    let text = agent
        .tr
        .t2("bulk-done", "ok", ok, "failed", results.len() - ok);
    if is_htmx(&headers) {
        Ok(text.into_response())
    } else {
        Ok(Redirect::to("/conversations").into_response())
    }
}

#[derive(Debug, Deserialize)]
pub struct CannedQuery {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    conversation: String,
}

/// Saved replies whose shortcut starts with `prefix`, in the agent's language, with the
/// open conversation's placeholders filled in.
pub async fn canned(
    State(state): State<AppState>,
    agent: WebAgent,
    Query(q): Query<CannedQuery>,
) -> Result<Response, WebError> {
    let conversation = match q.conversation.parse::<i64>() {
        Ok(n) => state
            .store
            .conversation_by_number_for(&agent.caller, n)
            .await
            .ok(),
        Err(_) => None,
    };
    let contact_name = match &conversation {
        Some(c) => state.store.contact_summary(&c.contact_id).await?.name,
        None => None,
    };
    let values = switchboard_core::canned::PlaceholderValues {
        contact_name,
        conversation_number: conversation.as_ref().map(|c| c.number),
        agent_name: Some(view::display_name(&agent.user)),
        locale: agent.tr.lang().to_owned(),
    };
    let rows = state
        .store
        .canned_by_prefix(q.prefix.trim(), agent.tr.lang())
        .await?;
    let out: Vec<serde_json::Value> = rows
        .into_iter()
        .take(8)
        .map(|r| {
            serde_json::json!({
                "shortcut": r.shortcut,
                "title": r.title,
                "body": switchboard_core::canned::render_canned(&r.body, &values),
            })
        })
        .collect();
    Ok(axum::Json(out).into_response())
}

#[derive(Debug, Deserialize)]
pub struct PaletteQuery {
    #[serde(default)]
    q: String,
}

/// The command palette: conversations and contacts matching the text, and pages.
pub async fn palette(
    State(state): State<AppState>,
    agent: WebAgent,
    Query(q): Query<PaletteQuery>,
) -> Result<Response, WebError> {
    use crate::kit::http::html_escape as e;
    let text = q.q.trim();
    let mut out = String::new();
    if let Ok(n) = text.trim_start_matches('#').parse::<i64>()
        && let Ok(c) = state
            .store
            .conversation_by_number_for(&agent.caller, n)
            .await
    {
        out.push_str(&format!(
            "<li><a href=\"/conversations/{}\">#{}</a></li>",
            c.number, c.number
        ));
    }
    if text.chars().count() >= 2 {
        let query = ListQuery {
            view: View::All,
            filter: ListFilter {
                statuses: vec![
                    Status::Open,
                    Status::Pending,
                    Status::Snoozed,
                    Status::Resolved,
                ],
                search: Some(text.to_owned()),
                ..ListFilter::default()
            },
            sort: SortBy::LastActivity,
            after: None,
            limit: 8,
        };
        for it in state.store.inbox_list(&agent.caller, &query).await?.items {
            let who = view::contact_label(
                &agent.tr,
                it.contact_name.as_deref(),
                it.contact_handle.as_deref(),
                it.conversation.number,
            );
            out.push_str(&format!(
                "<li><a href=\"/conversations/{n}\">#{n} · {} <span class=\"muted small snippet\">{}</span></a></li>",
                e(&who),
                view::marked_snippet(&view::one_line(it.snippet.as_deref().unwrap_or(&it.preview), 200)),
                n = it.conversation.number,
            ));
        }
    }
    for (href, key) in [
        ("/conversations?view=mine", "view-mine"),
        ("/conversations?view=unassigned", "view-unassigned"),
        ("/dashboard", "nav-dashboard"),
        ("/account", "nav-account"),
    ] {
        let label = agent.tr.t(key);
        if text.is_empty() || label.to_lowercase().contains(&text.to_lowercase()) {
            out.push_str(&format!("<li><a href=\"{href}\">{}</a></li>", e(&label)));
        }
    }
    Ok(axum::response::Html(out).into_response())
}
