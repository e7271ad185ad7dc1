//! The agent inbox's conversation list: views (mine, unassigned, all, a team, a tier),
//! filters, three sort orders walked by keyset pages, unread state per agent, counts per
//! view, and full-text search over messages and contacts.
//!
//! Every query here that an agent triggers is AND-ed with the caller's scope
//! ([`Caller::condition`]), so no view, filter, search or count shows a conversation the
//! caller may not open. The list's columns (preview, waiting time, last inbound message)
//! and the search index are kept up to date by triggers on `messages` and on the contact
//! tables (migration 5), in the writing transaction, whatever the insert site.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use unicode_normalization::char::is_combining_mark;

use super::{Backend, Caller, Store, rows};
use crate::domain::{Channel, Conversation, Identity, IdentityKind, Priority, Role, Status, Tier};
use crate::error::{Error, Result};

/// Which conversations a list shows, always within the caller's scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum View {
    /// Assigned to the caller.
    Mine,
    /// Assigned to nobody.
    Unassigned,
    /// Everything the caller may see.
    All,
    Team(String),
    Tier(Tier),
}

impl View {
    /// The view as one word for URLs and forms: `mine`, `unassigned`, `all`, `team:<name>`,
    /// `tier:N2`. [`View::parse`] reads it back.
    pub fn key(&self) -> String {
        match self {
            View::Mine => "mine".into(),
            View::Unassigned => "unassigned".into(),
            View::All => "all".into(),
            View::Team(t) => format!("team:{t}"),
            View::Tier(t) => format!("tier:{t}"),
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "mine" => Ok(View::Mine),
            "unassigned" => Ok(View::Unassigned),
            "all" => Ok(View::All),
            _ => {
                if let Some(team) = s.strip_prefix("team:").map(str::trim)
                    && !team.is_empty()
                {
                    Ok(View::Team(team.to_owned()))
                } else if let Some(tier) = s.strip_prefix("tier:") {
                    Ok(View::Tier(Tier::parse(tier)?))
                } else {
                    Err(Error::invalid(format!(
                        "unknown view {s:?}; expected mine, unassigned, all, team:<name> or tier:<N1|N2|N3>"
                    )))
                }
            }
        }
    }
}

/// The order of a list. Each ends in the conversation id, so page boundaries are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    /// Latest message first.
    #[default]
    LastActivity,
    /// The contact waiting longest for an answer first; conversations where nobody waits
    /// come last.
    Waiting,
    /// Urgent first, then high, medium, low, none; by latest message within a priority.
    Priority,
}

impl SortBy {
    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::LastActivity => "last_activity",
            SortBy::Waiting => "waiting",
            SortBy::Priority => "priority",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "last_activity" => Ok(SortBy::LastActivity),
            "waiting" => Ok(SortBy::Waiting),
            "priority" => Ok(SortBy::Priority),
            other => Err(Error::invalid(format!(
                "unknown sort {other:?}; expected last_activity, waiting or priority"
            ))),
        }
    }

    /// The cursor's tag for this order: a cursor is valid only for the order it came from.
    fn tag(self) -> &'static str {
        match self {
            SortBy::LastActivity => "a",
            SortBy::Waiting => "w",
            SortBy::Priority => "p",
        }
    }
}

/// Filters of a list; each one set narrows it. `statuses` empty means every status but
/// resolved (open, pending, snoozed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub statuses: Vec<Status>,
    pub channel: Option<Channel>,
    pub priority: Option<Priority>,
    pub label: Option<String>,
    pub company_id: Option<String>,
    pub assignee_id: Option<String>,
    /// Words to find in the conversation's messages or its contact (name, addresses,
    /// numbers), accents and case ignored; each word must occur, words of three letters
    /// or more also as the start of a longer word. Empty once cleaned: no search.
    pub search: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub view: View,
    pub filter: ListFilter,
    pub sort: SortBy,
    /// The `next` of the previous page; opaque.
    pub after: Option<String>,
    /// Conversations per page: 1 to 200; 0 or less means 50.
    pub limit: i64,
}

impl ListQuery {
    /// The first page of a view, by last activity, 50 conversations.
    pub fn new(view: View) -> Self {
        Self {
            view,
            filter: ListFilter::default(),
            sort: SortBy::default(),
            after: None,
            limit: DEFAULT_LIMIT,
        }
    }
}

/// One row of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListItem {
    pub conversation: Conversation,
    pub contact_name: Option<String>,
    /// An identity of the contact to show when it has no name: an email address, a phone
    /// or WhatsApp number (verified ones first), else the web-chat visitor id.
    pub contact_handle: Option<String>,
    pub company_name: Option<String>,
    /// The latest message, one line of plain text, at most 140 characters (an ellipsis
    /// marks a cut). Empty when that message has no text (attachments only).
    pub preview: String,
    /// Who wrote the latest message: contact, agent, bot or system.
    pub preview_author: String,
    /// Since when the contact has been waiting for an answer (its first message after the
    /// latest answer by an agent or the bot); `None` when nobody waits.
    pub waiting_since: Option<i64>,
    /// The contact wrote after the caller last opened the conversation.
    pub unread: bool,
    /// When searching: plain text around the match, each matched word between
    /// `\u{2}` and `\u{3}` (the UI escapes the text and marks them). `None` when the
    /// conversation matched by its contact only.
    pub snippet: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListPage {
    pub items: Vec<ListItem>,
    /// The cursor of the next page (`ListQuery::after`); `None` on the last page.
    pub next: Option<String>,
}

/// A badge: a view's unresolved conversations and, among them, the unread ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViewCount {
    pub view: View,
    pub open: i64,
    pub unread: i64,
}

/// A contact found by name or identity, with the conversations of it the caller may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactHit {
    pub contact_id: String,
    pub name: Option<String>,
    pub company_id: Option<String>,
    pub company_name: Option<String>,
    /// Verified identities first, then claimed ones.
    pub identities: Vec<Identity>,
    /// How many of its conversations the caller may see.
    pub conversations: i64,
    /// The latest message in those.
    pub last_message_at: i64,
}

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;
const PREVIEW_CHARS: usize = 140;
/// Longest search, in words and characters per word.
const MAX_TERMS: usize = 8;
const MAX_TERM_CHARS: usize = 64;
/// Words this long or longer also match as the start of a longer word.
const PREFIX_MIN_CHARS: usize = 3;

/// The statuses listed when the filter names none.
const UNRESOLVED: &str = "('open', 'pending', 'snoozed')";
/// The waiting sort key; the same expression as the index `conversation_activity_by_waiting`.
const WAIT_KEY: &str = "COALESCE(a.waiting_since, 9223372036854775807)";
/// The priority sort key; the same expression as the index `conversations_by_priority`.
const PRIORITY_KEY: &str = "(CASE c.priority WHEN 'urgent' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END)";
/// Unread for the agent whose `conversation_reads` row is joined as `r`.
const UNREAD: &str =
    "(a.last_inbound_at IS NOT NULL AND (r.read_at IS NULL OR a.last_inbound_at > r.read_at))";
/// A conversation with its activity (`a`) and the agent's read state (`r`, joined on the
/// bind given).
fn list_from(me: &str) -> String {
    format!(
        "conversations c JOIN conversation_activity a ON a.conversation_id = c.id \
         LEFT JOIN conversation_reads r ON r.conversation_id = c.id AND r.user_id = {me}"
    )
}
/// FTS5 rowids: conversation number × 2^16 + chunk (see the SQLite migration).
const CHUNK_BITS: u32 = 16;
/// Up to this many matching conversations, a search names them to the list query, which
/// then reads just those; with more, the list walks its order and tests each conversation
/// (it meets enough matches soon). Neither database can tell the two cases apart when it
/// plans: SQLite knows nothing of an FTS query's size, and PostgreSQL under-prices testing
/// each row against the search row.
pub(super) const FEW_MATCHES: usize = 3000;

/// What a search leaves of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Matches {
    /// Nothing matches.
    None,
    /// These conversations, as a JSON array (numbers on SQLite, ids on PostgreSQL).
    Few(String),
    /// Too many to name.
    Many,
}

fn priority_rank(p: Priority) -> i64 {
    match p {
        Priority::Urgent => 4,
        Priority::High => 3,
        Priority::Medium => 2,
        Priority::Low => 1,
        Priority::None => 0,
    }
}

/// A bind value.
#[derive(Debug, Clone)]
enum Arg {
    Text(String),
    Int(i64),
}

/// A statement being built, with its binds numbered as they are added.
#[derive(Debug, Default)]
struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn text(&mut self, v: impl Into<String>) -> String {
        self.args.push(Arg::Text(v.into()));
        format!("${}", self.args.len())
    }

    fn int(&mut self, v: i64) -> String {
        self.args.push(Arg::Int(v));
        format!("${}", self.args.len())
    }

    /// `$a, $b, …` for a list of values.
    fn list(&mut self, values: &[String]) -> String {
        values
            .iter()
            .map(|v| self.text(v.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The caller's scope, as a condition on `conversations`.
    fn scope(&mut self, caller: &Caller) -> String {
        let (condition, binds) = caller.condition(self.args.len() + 1);
        self.args.extend(binds.into_iter().map(Arg::Text));
        format!("({condition})")
    }

    /// The caller's scope over the view tallies' rows (migration 39), the same rule as
    /// [`Caller::condition`]: the rows without company for the roles whose scope never
    /// looks at companies, the rows with one for coordinators; a technician's own
    /// conversations from the first and its companies' others from the second.
    fn tally_scope(&mut self, caller: &Caller) -> String {
        match caller.role {
            Role::Coordinator => {
                let scope = self.scope(caller);
                format!("by_company = 1 AND {scope}")
            }
            Role::Technician if caller.companies.is_empty() => {
                let me = self.text(caller.user_id.as_str());
                format!("by_company = 0 AND assignee_id = {me}")
            }
            Role::Technician => {
                let me = self.text(caller.user_id.as_str());
                let me_again = self.text(caller.user_id.as_str());
                let companies = self.list(&caller.companies);
                format!(
                    "((by_company = 0 AND assignee_id = {me}) OR (by_company = 1 AND company_id IN ({companies}) \
                     AND (assignee_id IS NULL OR assignee_id <> {me_again})))"
                )
            }
            _ => {
                let scope = self.scope(caller);
                format!("by_company = 0 AND {scope}")
            }
        }
    }

    async fn fetch_all(self, pool: &sqlx::AnyPool) -> Result<Vec<AnyRow>> {
        let mut q = sqlx::query(AssertSqlSafe(self.text));
        for a in self.args {
            q = match a {
                Arg::Text(s) => q.bind(s),
                Arg::Int(i) => q.bind(i),
            };
        }
        Ok(q.fetch_all(pool).await?)
    }
}

/// Unresolved conversations of one team, tier and kind of assignee (the caller, nobody,
/// someone else), and the unread ones among them.
struct Group {
    team: Option<String>,
    tier: String,
    mine: bool,
    unassigned: bool,
    open: i64,
    unread: i64,
}

impl Group {
    /// A row of a count: the group's columns, `open` and `unread`.
    fn read(row: &AnyRow) -> Result<Self> {
        Ok(Group {
            team: row.try_get("team")?,
            tier: row.try_get("tier")?,
            mine: row.try_get::<i64, _>("mine")? != 0,
            unassigned: row.try_get::<i64, _>("unassigned")? != 0,
            open: row.try_get("open")?,
            unread: row.try_get("unread")?,
        })
    }
}

/// Where a page ends: the sort key of its last conversation and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    sort: SortBy,
    a: i64,
    b: i64,
    id: String,
}

impl Cursor {
    fn after(sort: SortBy, c: &Conversation, waiting_since: Option<i64>) -> Self {
        let (a, b) = match sort {
            SortBy::LastActivity => (c.last_message_at, 0),
            SortBy::Waiting => (waiting_since.unwrap_or(i64::MAX), 0),
            SortBy::Priority => (priority_rank(c.priority), c.last_message_at),
        };
        Self {
            sort,
            a,
            b,
            id: c.id.clone(),
        }
    }

    fn encode(&self) -> String {
        hex::encode(format!(
            "{}|{}|{}|{}",
            self.sort.tag(),
            self.a,
            self.b,
            self.id
        ))
    }

    fn decode(s: &str, sort: SortBy) -> Result<Self> {
        let bad = || Error::invalid("the page cursor is not one this list gave out");
        let text = hex::decode(s)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let mut parts = text.splitn(4, '|');
        let (Some(tag), Some(a), Some(b), Some(id)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if tag != sort.tag()
            || id.is_empty()
            || id.len() > 100
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(bad());
        }
        Ok(Self {
            sort,
            a: a.parse().map_err(|_| bad())?,
            b: b.parse().map_err(|_| bad())?,
            id: id.to_owned(),
        })
    }
}

/// The words of a search as the full-text indexes see them: runs of letters and digits
/// (combining accents stay with their letter), lower-cased, at most 8 words of at most 64
/// characters. A number typed in groups (`+55 11 99999-8888`) is one word, as it is
/// stored. No character of the indexes' query syntax survives, and each word is quoted
/// when the query is built, so user input is never query syntax.
pub fn search_terms(text: &str) -> Vec<String> {
    let is_mark = |c: char| ('\u{300}'..='\u{36f}').contains(&c);
    let mut terms: Vec<String> = Vec::new();
    for word in text.split(|c: char| !(c.is_alphanumeric() || is_mark(c))) {
        if !word.chars().any(char::is_alphanumeric) {
            continue;
        }
        let word: String = word.to_lowercase().chars().take(MAX_TERM_CHARS).collect();
        if !terms.contains(&word) {
            terms.push(word);
        }
    }
    if terms.len() > 1 && terms.iter().all(|t| t.chars().all(|c| c.is_ascii_digit())) {
        let joined: String = terms.concat().chars().take(MAX_TERM_CHARS).collect();
        terms = vec![joined];
    }
    terms.truncate(MAX_TERMS);
    terms
}

fn is_prefix_term(t: &str) -> bool {
    t.chars().count() >= PREFIX_MIN_CHARS
}

/// An FTS5 query: every term, quoted, must occur (in `column` only, if given).
fn fts5_query(terms: &[String], column: Option<&str>) -> String {
    terms
        .iter()
        .map(|t| {
            let col = column.map(|c| format!("{c} : ")).unwrap_or_default();
            let star = if is_prefix_term(t) { "*" } else { "" };
            format!("{col}\"{t}\"{star}")
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// A `to_tsquery` text: every term quoted, joined by `op` (`&` or `|`).
fn tsquery(terms: &[String], op: &str) -> String {
    terms
        .iter()
        .map(|t| {
            let star = if is_prefix_term(t) { ":*" } else { "" };
            format!("'{t}'{star}")
        })
        .collect::<Vec<_>>()
        .join(&format!(" {op} "))
}

/// One line of plain text of at most `max` characters; an ellipsis marks a cut.
fn one_line(text: &str, max: usize) -> String {
    let flat = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// A snippet as one line, keeping only the match marks among control characters; `None`
/// when nothing in it is marked.
fn clean_snippet(text: &str) -> Option<String> {
    let flat = text
        .split(|c: char| c.is_whitespace() || (c.is_control() && c != '\u{2}' && c != '\u{3}'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    flat.contains('\u{2}').then_some(flat)
}

/// A word as the full-text indexes compare it: accents dropped, lower case.
use crate::text::fold;

/// About 20 words of `text` around the last place it has a word of the search (as the
/// index matches them: accents and case ignored, words of three letters or more also as
/// the start of a longer word), each such word between `\u{2}` and `\u{3}`, in one line;
/// `None` when no word matches.
fn mark_matches(text: &str, terms: &[String]) -> Option<String> {
    const BEFORE: usize = 8;
    const AFTER: usize = 12;
    let terms: Vec<(String, bool)> = terms.iter().map(|t| (fold(t), is_prefix_term(t))).collect();
    let matches = |word: &str| {
        let w = fold(word);
        terms.iter().any(|(t, prefix)| {
            if *prefix {
                w.starts_with(t.as_str())
            } else {
                &w == t
            }
        })
    };
    // (start, end) byte offsets of the words, and whether each matches.
    let mut words: Vec<(usize, usize, bool)> = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        let in_word = i < text.len() && (c.is_alphanumeric() || is_combining_mark(c));
        match (in_word, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                words.push((s, i, matches(&text[s..i])));
                start = None;
            }
            _ => {}
        }
    }
    let last = words.iter().rposition(|w| w.2)?;
    let from = last.saturating_sub(BEFORE);
    let to = (last + AFTER + 1).min(words.len());
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    let mut at = if from == 0 { 0 } else { words[from].0 };
    for &(s, e, hit) in &words[from..to] {
        out.push_str(&text[at..s]);
        if hit {
            out.push('\u{2}');
            out.push_str(&text[s..e]);
            out.push('\u{3}');
        } else {
            out.push_str(&text[s..e]);
        }
        at = e;
    }
    if to < words.len() {
        out.push('…');
    } else {
        out.push_str(&text[at..]);
    }
    clean_snippet(&out)
}

/// Conversation columns, qualified for a query on `conversations c`.
fn conversation_columns() -> String {
    rows::CONVERSATION_COLUMNS
        .split(", ")
        .map(|c| format!("c.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What an identity kind says about a contact, best first.
fn handle_rank(kind: IdentityKind) -> u8 {
    match kind {
        IdentityKind::Email => 0,
        IdentityKind::Phone => 1,
        IdentityKind::Whatsapp => 2,
        IdentityKind::WhatsappUser => 3,
        IdentityKind::Visitor => 4,
    }
}

/// The planner's row estimate on a PostgreSQL `EXPLAIN` line (`… rows=1717 width=37)`).
/// A PostgreSQL string literal of `text`, right whatever `standard_conforming_strings`.
fn pg_literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

fn estimated_rows(line: &str) -> Option<usize> {
    let rest = &line[line.find("rows=")? + "rows=".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The view's condition: the caller's conversations, nobody's, a team's or a tier's
/// (all: none).
fn push_view(sql: &mut Sql, caller: &Caller, view: &View) {
    match view {
        View::Mine => {
            let me = sql.text(caller.user_id.as_str());
            sql.push(&format!(" AND c.assignee_id = {me}"));
        }
        View::Unassigned => sql.push(" AND c.assignee_id IS NULL"),
        View::All => {}
        View::Team(team) => {
            let t = sql.text(team.trim());
            sql.push(&format!(" AND c.team = {t}"));
        }
        View::Tier(tier) => sql.push(&format!(" AND c.tier = '{}'", tier.as_str())),
    }
}

/// The statuses a list shows as an SQL list of fixed words; none named: every
/// unresolved one.
fn status_list(statuses: &[Status]) -> String {
    if statuses.is_empty() {
        UNRESOLVED.to_owned()
    } else {
        let list = statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        format!("({list})")
    }
}

/// The filter's conditions on channel, priority, label, company and assignee; each one
/// set narrows the list.
fn push_filters(sql: &mut Sql, filter: &ListFilter) {
    if let Some(ch) = filter.channel {
        sql.push(&format!(" AND c.channel = '{}'", ch.as_str()));
    }
    if let Some(p) = filter.priority {
        sql.push(&format!(" AND c.priority = '{}'", p.as_str()));
    }
    if let Some(label) = filter
        .label
        .as_deref()
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty())
    {
        push_label(sql, label);
    }
    if let Some(company) = &filter.company_id {
        let p = sql.text(company.as_str());
        sql.push(&format!(" AND c.company_id = {p}"));
    }
    if let Some(assignee) = &filter.assignee_id {
        let p = sql.text(assignee.as_str());
        sql.push(&format!(" AND c.assignee_id = {p}"));
    }
}

/// Conversations with a label (trimmed, lower case), bound as a `LIKE` pattern.
fn push_label(sql: &mut Sql, label: String) {
    // Labels are stored as a JSON array of strings: look for the JSON string.
    let json = serde_json::Value::String(label).to_string();
    let escaped = json
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let p = sql.text(format!("%{escaped}%"));
    sql.push(&format!(" AND c.labels LIKE {p} ESCAPE '\\'"));
}

impl Store {
    /// A page of the inbox list: the view and filters within the caller's scope, in the
    /// chosen order, after the cursor. A cursor this list did not give out (or one of
    /// another order) is invalid.
    pub async fn inbox_list(&self, caller: &Caller, q: &ListQuery) -> Result<ListPage> {
        let limit = if q.limit <= 0 {
            DEFAULT_LIMIT
        } else {
            q.limit.min(MAX_LIMIT)
        };
        let cursor = q
            .after
            .as_deref()
            .map(|c| Cursor::decode(c, q.sort))
            .transpose()?;
        let terms = q
            .filter
            .search
            .as_deref()
            .map(search_terms)
            .unwrap_or_default();

        let matches = if terms.is_empty() {
            None
        } else {
            match self.search_matches(&terms).await? {
                Matches::None => {
                    return Ok(ListPage {
                        items: Vec::new(),
                        next: None,
                    });
                }
                m => Some(m),
            }
        };

        let mut sql = Sql::default();
        let me = sql.text(caller.user_id.as_str());
        sql.push(&format!(
            "SELECT {}, a.preview, a.preview_author, a.waiting_since, CAST(CASE WHEN {UNREAD} THEN 1 ELSE 0 END AS BIGINT) AS unread \
             FROM {} WHERE ",
            conversation_columns(),
            list_from(&me)
        ));
        let scope = sql.scope(caller);
        match self.backend {
            // As a plain condition, SQLite would look a support agent's scope up through
            // the assignee index (assigned to me OR unassigned: half the table) and sort,
            // instead of walking the list's order and stopping at a page.
            Backend::Sqlite => sql.push(&format!("(CASE WHEN {scope} THEN 1 ELSE 0 END) = 1")),
            Backend::Postgres => sql.push(&scope),
        }
        self.view_and_filter(&mut sql, caller, q, &terms, matches.as_ref());
        if let Some(c) = &cursor {
            let (a, b, id) = (sql.int(c.a), sql.int(c.b), sql.text(c.id.as_str()));
            sql.push(&match q.sort {
                SortBy::LastActivity => format!(" AND (c.last_message_at, c.id) < ({a}, {id})"),
                // The first comparison alone lets SQLite seek in the expression index.
                SortBy::Waiting => format!(
                    " AND {WAIT_KEY} >= {a} AND ({WAIT_KEY}, a.conversation_id) > ({a}, {id})"
                ),
                SortBy::Priority => format!(
                    " AND {PRIORITY_KEY} <= {a} AND ({PRIORITY_KEY}, c.last_message_at, c.id) < ({a}, {b}, {id})"
                ),
            });
        }
        sql.push(&match q.sort {
            SortBy::LastActivity => " ORDER BY c.last_message_at DESC, c.id DESC".to_owned(),
            SortBy::Waiting => format!(" ORDER BY {WAIT_KEY}, a.conversation_id"),
            SortBy::Priority => {
                format!(" ORDER BY {PRIORITY_KEY} DESC, c.last_message_at DESC, c.id DESC")
            }
        });
        let n = sql.int(limit + 1);
        sql.push(&format!(" LIMIT {n}"));

        let rows = sql.fetch_all(&self.pool).await?;
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows
            .iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
        {
            let preview: String = row.try_get("preview")?;
            let author: Option<String> = row.try_get("preview_author")?;
            items.push(ListItem {
                conversation: rows::conversation(row)?,
                contact_name: None,
                contact_handle: None,
                company_name: None,
                preview: one_line(&preview, PREVIEW_CHARS),
                preview_author: author.unwrap_or_default(),
                waiting_since: row.try_get("waiting_since")?,
                unread: row.try_get::<i64, _>("unread")? != 0,
                snippet: None,
            });
        }
        let next = match items.last() {
            Some(last) if more => {
                Some(Cursor::after(q.sort, &last.conversation, last.waiting_since).encode())
            }
            _ => None,
        };
        self.add_contacts(&mut items).await?;
        if !terms.is_empty() {
            self.add_snippets(&mut items, &terms).await?;
        }
        Ok(ListPage { items, next })
    }

    /// The view's and the filter's conditions, AND-ed to a statement on `conversations c`.
    fn view_and_filter(
        &self,
        sql: &mut Sql,
        caller: &Caller,
        q: &ListQuery,
        terms: &[String],
        matches: Option<&Matches>,
    ) {
        // Statuses, channels, priorities and tiers are closed sets of fixed words, written
        // into the statement so that the planner sees them; everything else is bound.
        push_view(sql, caller, &q.view);
        self.push_statuses(sql, &q.filter.statuses, q.sort);
        push_filters(sql, &q.filter);
        self.push_matches(sql, terms, matches);
    }

    /// The statuses' condition, said the way each database needs to use the partial
    /// indexes of unresolved conversations.
    fn push_statuses(&self, sql: &mut Sql, statuses: &[Status], sort: SortBy) {
        let list = status_list(statuses);
        let unresolved_only = !statuses.contains(&Status::Resolved);
        // The partial indexes hold unresolved conversations. SQLite uses one only when the
        // query says their condition as written; PostgreSQL proves it from the list of
        // statuses, and a second condition on the status would only make it expect a
        // fifth of the rows it gets (and plan for that). The waiting order's index is on
        // the activity rows, which know only whether a conversation is unresolved.
        let waiting = sort == SortBy::Waiting && unresolved_only;
        match self.backend {
            Backend::Sqlite => {
                sql.push(&format!(" AND c.status IN {list}"));
                if unresolved_only {
                    sql.push(" AND c.status <> 'resolved'");
                }
                if waiting {
                    sql.push(" AND a.unresolved = 1");
                }
            }
            Backend::Postgres if waiting && statuses.is_empty() => {
                sql.push(" AND a.unresolved = 1");
            }
            Backend::Postgres => {
                sql.push(&format!(" AND c.status IN {list}"));
                if waiting {
                    sql.push(" AND a.unresolved = 1");
                }
            }
        }
    }

    /// The conversations (numbers) that have one search word in one of their FTS rows, as
    /// a statement whose bind `p` is that word's query. A thread's words are spread over
    /// a row per message (see migration 38), so a search of several words is the
    /// intersection of one such set per word, not one row having them all.
    fn word_set(p: &str) -> String {
        format!(
            "SELECT rowid >> {CHUNK_BITS} AS n FROM conversation_fts WHERE conversation_fts MATCH {p}"
        )
    }

    /// The conversations (numbers) having every word, as one SQLite statement appended to
    /// `sql`.
    fn push_all_words(sql: &mut Sql, terms: &[String]) {
        let parts: Vec<String> = terms
            .iter()
            .map(|t| Self::word_set(&sql.text(fts5_query(std::slice::from_ref(t), None))))
            .collect();
        if let [one] = parts.as_slice() {
            sql.push(&format!("SELECT DISTINCT n FROM ({one}) AS one_word"));
        } else {
            sql.push(&parts.join(" INTERSECT "));
        }
    }

    /// PostgreSQL: whether conversation `id` (an SQL expression) has `term` in its search
    /// row or in one of its words rows not yet folded into it: one row's test and one
    /// index probe for a folded conversation, stopping at the first row with the word.
    fn has_word(sql: &mut Sql, id: &str, term: &str) -> String {
        let q = tsquery(std::slice::from_ref(&term.to_owned()), "&");
        let (p, p_again) = (sql.text(q.clone()), sql.text(q));
        format!(
            "COALESCE((SELECT true FROM conversation_search s \
               WHERE s.conversation_id = {id} \
                 AND (s.contact || s.body) @@ to_tsquery('switchboard_search', {p}) \
             UNION ALL SELECT true FROM conversation_words w \
               WHERE w.conversation_id = {id} \
                 AND w.body @@ to_tsquery('switchboard_search', {p_again}) \
             LIMIT 1), false)"
        )
    }

    /// A search's condition: the few matching conversations named, or, when there are
    /// many, the full-text index tested for each conversation the list walks.
    fn push_matches(&self, sql: &mut Sql, terms: &[String], matches: Option<&Matches>) {
        match (matches, self.backend) {
            (None | Some(Matches::None), _) => {}
            (Some(Matches::Few(list)), Backend::Sqlite) => {
                let p = sql.text(list.as_str());
                sql.push(&format!(
                    " AND c.number IN (SELECT value FROM json_each({p}))"
                ));
            }
            (Some(Matches::Few(list)), Backend::Postgres) => {
                let p = sql.text(list.as_str());
                sql.push(&format!(
                    " AND c.id IN (SELECT jsonb_array_elements_text(CAST({p} AS jsonb)))"
                ));
            }
            // `+` keeps SQLite from driving the query by the matches: it walks the
            // list's order and tests each conversation against them.
            (Some(Matches::Many), Backend::Sqlite) => {
                for t in terms {
                    let p = sql.text(fts5_query(std::slice::from_ref(t), None));
                    sql.push(&format!(" AND +c.number IN ({})", Self::word_set(&p)));
                }
            }
            // Tested for each conversation the list walks, by a subquery PostgreSQL runs
            // per row (it cannot make a join of it): as `c.id IN (…)` it collected every
            // row having a common word first, while the list meets enough matches among
            // its first conversations.
            (Some(Matches::Many), Backend::Postgres) => {
                for t in terms {
                    let test = Self::has_word(sql, "c.id", t);
                    sql.push(&format!(" AND {test}"));
                }
            }
        }
    }

    /// Which conversations a search matches, if they are few; whatever the caller's scope
    /// (the list query applies it).
    async fn search_matches(&self, terms: &[String]) -> Result<Matches> {
        let few = self.few_matches;
        let cap = i64::try_from(few + 1).unwrap_or(i64::MAX);
        let found: Vec<serde_json::Value> = match self.backend {
            Backend::Sqlite => {
                // FTS5 streams one word's matches: counting up to the cap costs little
                // even for the commonest word.
                let mut sql = Sql::default();
                Self::push_all_words(&mut sql, terms);
                let n = sql.int(cap);
                sql.push(&format!(" LIMIT {n}"));
                let mut numbers = Vec::new();
                for row in sql.fetch_all(&self.pool).await? {
                    numbers.push(serde_json::Value::from(row.try_get::<i64, _>(0)?));
                }
                numbers
            }
            Backend::Postgres => {
                // A conversation matches when each word is in its search row or in one of
                // its words rows not yet folded (migration 40). So: the search rows having
                // every word (one GIN scan, however many words), and the conversations
                // with a words row having any word, each tested word by word.
                let every = tsquery(terms, "&");
                let any = tsquery(terms, "|");
                // A GIN scan collects every match before the first one comes out, so ask
                // the planner's estimates (from the columns' word statistics) first, with
                // the words written into the statement: planned for a bound query,
                // PostgreSQL guesses a fixed fraction of the rows.
                let rows = self
                    .estimated_rows(&format!(
                        "SELECT 1 FROM conversation_search s \
                         WHERE (s.contact || s.body) @@ to_tsquery('switchboard_search', {})",
                        pg_literal(&every)
                    ))
                    .await?
                    + self
                        .estimated_rows(&format!(
                            "SELECT 1 FROM conversation_words w \
                             WHERE w.body @@ to_tsquery('switchboard_search', {})",
                            pg_literal(&any)
                        ))
                        .await?;
                if rows > 2 * few {
                    return Ok(Matches::Many);
                }
                let mut sql = Sql::default();
                let (p_every, p_any) = (sql.text(every), sql.text(any));
                let tests = terms
                    .iter()
                    .map(|t| Self::has_word(&mut sql, "x.n", t))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let n = sql.int(cap);
                sql.push(&format!(
                    "SELECT s.conversation_id AS n FROM conversation_search s \
                     WHERE (s.contact || s.body) @@ to_tsquery('switchboard_search', {p_every}) \
                     UNION SELECT x.n FROM (SELECT DISTINCT w.conversation_id AS n FROM conversation_words w \
                       WHERE w.body @@ to_tsquery('switchboard_search', {p_any})) x \
                     WHERE {tests} LIMIT {n}"
                ));
                let mut ids = Vec::new();
                for row in sql.fetch_all(&self.pool).await? {
                    ids.push(serde_json::Value::from(row.try_get::<String, _>(0)?));
                }
                ids
            }
        };
        Ok(if found.is_empty() {
            Matches::None
        } else if found.len() > few {
            Matches::Many
        } else {
            Matches::Few(serde_json::Value::Array(found).to_string())
        })
    }

    /// PostgreSQL's estimate of the rows `statement` returns (a statement without binds,
    /// planned for the values written in it; never cached).
    async fn estimated_rows(&self, statement: &str) -> Result<usize> {
        let plan: Vec<String> = sqlx::query(AssertSqlSafe(format!("EXPLAIN {statement}")))
            .persistent(false)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<std::result::Result<_, _>>()?;
        Ok(plan
            .first()
            .and_then(|l| estimated_rows(l))
            .unwrap_or(usize::MAX))
    }

    /// Folds the PostgreSQL words rows (migration 38) of messages older than `before_ms`
    /// into their conversations' search rows (migration 40), at most `most` conversations;
    /// returns how many were folded. Searches find the same conversations before and
    /// after; they are faster after (one row to test per conversation, one GIN scan for
    /// several words). The dispatcher's housekeeping calls this on every node; SQLite keeps
    /// a row per message and folds nothing.
    pub async fn fold_search_words(&self, before_ms: i64, most: i64) -> Result<u64> {
        if self.backend == Backend::Sqlite {
            return Ok(0);
        }
        let folded: i64 = sqlx::query_scalar("SELECT switchboard_fold_search_words($1, $2)")
            .bind(crate::clock::id_floor(before_ms))
            .bind(most)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(folded).unwrap_or(0))
    }

    /// This store, naming a search's matches to the list query up to `n` conversations
    /// (3,000 unless set); past that, the list tests each conversation it walks. Both
    /// ways find the same conversations: tests set it to 0 to walk every time.
    pub fn with_few_matches(mut self, n: usize) -> Self {
        self.few_matches = n;
        self
    }

    /// Fills in each item's contact name and handle and company name.
    async fn add_contacts(&self, items: &mut [ListItem]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let contacts: Vec<String> = items
            .iter()
            .map(|i| i.conversation.contact_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut sql = Sql::default();
        let list = sql.list(&contacts);
        sql.push(&format!(
            "SELECT id, name FROM contacts WHERE id IN ({list})"
        ));
        let mut names: HashMap<String, Option<String>> = HashMap::new();
        for row in sql.fetch_all(&self.pool).await? {
            names.insert(row.try_get("id")?, row.try_get("name")?);
        }
        let handles = self.identities_of(&contacts).await?;
        let companies: Vec<String> = items
            .iter()
            .filter_map(|i| i.conversation.company_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let company_names = self.company_names(&companies).await?;
        for item in items {
            let c = &item.conversation;
            item.contact_name = names.get(&c.contact_id).cloned().flatten();
            item.contact_handle = handles
                .get(&c.contact_id)
                .and_then(|ids| ids.first())
                .map(|i| i.value().to_owned());
            item.company_name = c
                .company_id
                .as_ref()
                .and_then(|id| company_names.get(id).cloned());
        }
        Ok(())
    }

    /// Each contact's identities, best to show first: by kind (email, phone, WhatsApp,
    /// visitor), verified before claimed.
    async fn identities_of(&self, contacts: &[String]) -> Result<HashMap<String, Vec<Identity>>> {
        if contacts.is_empty() {
            return Ok(HashMap::new());
        }
        let mut sql = Sql::default();
        let a = sql.list(contacts);
        let b = sql.list(contacts);
        sql.push(&format!(
            "SELECT contact_id, kind, value, CAST(0 AS BIGINT) AS claimed FROM contact_identities WHERE contact_id IN ({a}) \
             UNION ALL SELECT contact_id, kind, value, CAST(1 AS BIGINT) AS claimed FROM contact_claims WHERE contact_id IN ({b})"
        ));
        let mut found: HashMap<String, Vec<(u8, i64, Identity)>> = HashMap::new();
        for row in sql.fetch_all(&self.pool).await? {
            let kind: String = row.try_get("kind")?;
            let value: String = row.try_get("value")?;
            // Stored identities were normalized on the way in; one that no longer parses
            // is not shown.
            let Ok(identity) = IdentityKind::parse(&kind).and_then(|k| Identity::new(k, &value))
            else {
                continue;
            };
            found.entry(row.try_get("contact_id")?).or_default().push((
                handle_rank(identity.kind()),
                row.try_get("claimed")?,
                identity,
            ));
        }
        Ok(found
            .into_iter()
            .map(|(contact, mut ids)| {
                ids.sort_by(|x, y| (x.0, x.1, x.2.value()).cmp(&(y.0, y.1, y.2.value())));
                ids.dedup_by(|x, y| x.2 == y.2);
                (contact, ids.into_iter().map(|(_, _, i)| i).collect())
            })
            .collect())
    }

    async fn company_names(&self, companies: &[String]) -> Result<HashMap<String, String>> {
        if companies.is_empty() {
            return Ok(HashMap::new());
        }
        let mut sql = Sql::default();
        let list = sql.list(companies);
        sql.push(&format!(
            "SELECT id, name FROM companies WHERE id IN ({list})"
        ));
        let mut out = HashMap::new();
        for row in sql.fetch_all(&self.pool).await? {
            out.insert(row.try_get("id")?, row.try_get("name")?);
        }
        Ok(out)
    }

    /// The matching text of each item's conversation, with the matches marked.
    async fn add_snippets(&self, items: &mut [ListItem], terms: &[String]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let mut found: HashMap<String, String> = HashMap::new();
        match self.backend {
            Backend::Sqlite => {
                // The text of each conversation's latest chunk, marked here: FTS5's own
                // snippet() needs the full-text query evaluated again, and for a common
                // word that walks every match.
                let mut sql = Sql::default();
                let numbers: Vec<String> = items
                    .iter()
                    .map(|i| sql.int(i.conversation.number))
                    .collect();
                sql.push(&format!(
                    "SELECT c.id, a.search_chunk, f.body FROM conversations c \
                     JOIN conversation_activity a ON a.conversation_id = c.id \
                     JOIN conversation_fts f ON f.rowid = c.number * 65536 + a.search_chunk \
                     WHERE c.number IN ({})",
                    numbers.join(", ")
                ));
                let mut older: Vec<(String, i64)> = Vec::new();
                for row in sql.fetch_all(&self.pool).await? {
                    let id: String = row.try_get("id")?;
                    let body: String = row.try_get("body")?;
                    match mark_matches(&body, terms) {
                        Some(s) => {
                            found.insert(id, s);
                        }
                        None => {
                            let chunk: i64 = row.try_get("search_chunk")?;
                            if chunk > 0 {
                                older.push((id, chunk));
                            }
                        }
                    }
                }
                // A thread whose latest row does not have the words: its older rows,
                // latest first (the last 200 messages, as on PostgreSQL).
                let number_of: HashMap<&str, i64> = items
                    .iter()
                    .map(|i| (i.conversation.id.as_str(), i.conversation.number))
                    .collect();
                for (id, chunk) in older {
                    let Some(&number) = number_of.get(id.as_str()) else {
                        continue;
                    };
                    let first = number << CHUNK_BITS;
                    let bodies: Vec<String> = sqlx::query_scalar(
                        "SELECT body FROM conversation_fts WHERE rowid >= $1 AND rowid < $2 ORDER BY rowid DESC LIMIT 200",
                    )
                    .bind(first)
                    .bind(first + chunk)
                    .fetch_all(&self.pool)
                    .await?;
                    if let Some(s) = bodies.iter().find_map(|b| mark_matches(b, terms)) {
                        found.insert(id, s);
                    }
                }
            }
            Backend::Postgres => {
                // The latest of the last 200 messages that has any of the words.
                let mut sql = Sql::default();
                let q = sql.text(tsquery(terms, "|"));
                let options = sql.text(
                    "StartSel=\u{2}, StopSel=\u{3}, MaxWords=20, MinWords=8, ShortWord=2, MaxFragments=1",
                );
                let ids: Vec<String> = items.iter().map(|i| i.conversation.id.clone()).collect();
                let list = sql.list(&ids);
                sql.push(&format!(
                    "SELECT p.id, h.snippet FROM conversations p CROSS JOIN LATERAL ( \
                       SELECT ts_headline('switchboard_search', left(m.text, 20000), to_tsquery('switchboard_search', {q}), {options}) AS snippet \
                       FROM (SELECT id, text FROM messages WHERE conversation_id = p.id ORDER BY id DESC LIMIT 200) m \
                       WHERE to_tsvector('switchboard_search', switchboard_search_text(left(m.text, 20000))) @@ to_tsquery('switchboard_search', {q}) \
                       ORDER BY m.id DESC LIMIT 1) h \
                     WHERE p.id IN ({list})"
                ));
                for row in sql.fetch_all(&self.pool).await? {
                    let snippet: String = row.try_get("snippet")?;
                    if let Some(s) = clean_snippet(&snippet) {
                        found.insert(row.try_get("id")?, s);
                    }
                }
            }
        }
        for item in items {
            item.snippet = found.remove(&item.conversation.id);
        }
        Ok(())
    }

    /// The badges of the caller's views: Mine, Unassigned, All, each of its teams (every
    /// team for admins and supervisors), each tier it works at (every tier for roles
    /// without one): unresolved conversations within the caller's scope, and the unread
    /// ones among them.
    ///
    /// Read from the tallies the triggers keep (migration 39): a few hundred rows, whatever
    /// the number of conversations. [`Store::inbox_counts_recounted`] counts the same from
    /// the conversations themselves.
    pub async fn inbox_counts(&self, caller: &Caller) -> Result<Vec<ViewCount>> {
        // One statement, so both tallies are read as of one moment: read apart, a
        // conversation resolved in between would leave its read behind as -1 unread.
        let mut sql = Sql::default();
        let me = sql.text(caller.user_id.as_str());
        let tally_scope = sql.tally_scope(caller);
        let reader = sql.text(caller.user_id.as_str());
        let seen_scope = sql.tally_scope(caller);
        sql.push(&format!(
            "SELECT team, tier, CAST(CASE WHEN assignee_id = {me} THEN 1 ELSE 0 END AS BIGINT) AS mine, \
                    CAST(CASE WHEN assignee_id IS NULL THEN 1 ELSE 0 END AS BIGINT) AS unassigned, \
                    CAST(SUM(open) AS BIGINT) AS open, CAST(SUM(unread) AS BIGINT) AS unread \
             FROM (SELECT team, tier, assignee_id, unresolved AS open, inbound AS unread \
                   FROM inbox_tally WHERE {tally_scope} \
                   UNION ALL \
                   SELECT team, tier, assignee_id, 0, -seen \
                   FROM inbox_seen WHERE user_id = {reader} AND {seen_scope}) AS t \
             GROUP BY 1, 2, 3, 4"
        ));
        self.views_from(caller, sql).await
    }

    /// The views' badges from a statement that returns one count row per group.
    async fn views_from(&self, caller: &Caller, sql: Sql) -> Result<Vec<ViewCount>> {
        let groups = sql
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(Group::read)
            .collect::<Result<Vec<_>>>()?;
        self.views_of(caller, &groups).await
    }

    /// The badges of [`Store::inbox_counts`], counted from every unresolved conversation
    /// in the caller's scope with its activity and the caller's read: what the tallies
    /// must always equal (the conformance tests and the inbox bench compare the two).
    pub async fn inbox_counts_recounted(&self, caller: &Caller) -> Result<Vec<ViewCount>> {
        let mut sql = Sql::default();
        let me = sql.text(caller.user_id.as_str());
        let me_again = sql.text(caller.user_id.as_str());
        sql.push(&format!(
            "SELECT c.team, c.tier, CAST(CASE WHEN c.assignee_id = {me} THEN 1 ELSE 0 END AS BIGINT) AS mine, \
                    CAST(CASE WHEN c.assignee_id IS NULL THEN 1 ELSE 0 END AS BIGINT) AS unassigned, \
                    COUNT(*) AS open, CAST(SUM(CASE WHEN {UNREAD} THEN 1 ELSE 0 END) AS BIGINT) AS unread \
             FROM {} WHERE c.status <> 'resolved' AND ",
            match self.backend {
                // The partial index holds every column this reads, in id order; SQLite
                // would rather look the scope up by assignee and then read table rows.
                Backend::Sqlite => list_from(&me_again).replacen(
                    "conversations c",
                    "conversations c INDEXED BY conversations_unresolved",
                    1,
                ),
                Backend::Postgres => list_from(&me_again),
            }
        ));
        let scope = sql.scope(caller);
        sql.push(&scope);
        sql.push(" GROUP BY 1, 2, 3, 4");
        self.views_from(caller, sql).await
    }

    /// Folds the view tallies' rows of differences (migration 39) into one row per group,
    /// once a tally has grown past twice the rows its last fold left, plus 256; returns
    /// how many rows were folded. Counts read the same before and after; the dispatcher's
    /// housekeeping calls this on every node.
    pub async fn compact_inbox_tallies(&self) -> Result<u64> {
        self.fold_tallies(false).await
    }

    /// Folds the view tallies now, however few their rows.
    pub async fn fold_inbox_tallies(&self) -> Result<u64> {
        self.fold_tallies(true).await
    }

    async fn fold_tallies(&self, always: bool) -> Result<u64> {
        let mut folded = 0;
        for (slot, table, key, sums, having) in [
            (
                0,
                "inbox_tally",
                "by_company, company_id, team, tier, assignee_id",
                "unresolved, inbound",
                "SUM(unresolved) <> 0 OR SUM(inbound) <> 0",
            ),
            (
                1,
                "inbox_seen",
                "user_id, by_company, company_id, team, tier, assignee_id",
                "seen",
                "SUM(seen) <> 0",
            ),
        ] {
            let row = sqlx::query(AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table}")))
                .fetch_one(&self.pool)
                .await?;
            let n: i64 = row.try_get("n")?;
            let left = self.tally_rows[slot].load(std::sync::atomic::Ordering::Relaxed);
            if n == 0 || (!always && n <= 2 * left + 256) {
                continue;
            }
            let summed = sums
                .split(", ")
                .map(|c| format!("SUM({c})"))
                .collect::<Vec<_>>()
                .join(", ");
            let groups = (1..=key.split(", ").count())
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let mut tx = self.begin_write().await?;
            // Read again inside the write: on SQLite a fold that ran meanwhile may have
            // emptied the table, and new rows would then get ids up to the old `last`.
            let last: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT COALESCE(MAX(id), 0) FROM {table}"
            )))
            .fetch_one(&mut **tx)
            .await?;
            match self.backend {
                // One statement: what it deletes is what it sums, whatever commits meanwhile.
                Backend::Postgres => {
                    sqlx::query(AssertSqlSafe(format!(
                        "WITH gone AS (DELETE FROM {table} WHERE id <= $1 RETURNING {key}, {sums}) \
                         INSERT INTO {table} ({key}, {sums}) \
                         SELECT {key}, {summed} FROM gone GROUP BY {groups} HAVING {having}"
                    )))
                    .bind(last)
                    .execute(&mut **tx)
                    .await?;
                }
                // One writer at a time: nothing commits between the two statements.
                Backend::Sqlite => {
                    sqlx::query(AssertSqlSafe(format!(
                        "INSERT INTO {table} ({key}, {sums}) \
                         SELECT {key}, {summed} FROM {table} WHERE id <= $1 GROUP BY {groups} HAVING {having}"
                    )))
                    .bind(last)
                    .execute(&mut **tx)
                    .await?;
                    sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE id <= $1")))
                        .bind(last)
                        .execute(&mut **tx)
                        .await?;
                }
            }
            tx.commit().await?;
            let left: i64 =
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                    .fetch_one(&self.pool)
                    .await?;
            self.tally_rows[slot].store(left, std::sync::atomic::Ordering::Relaxed);
            folded += u64::try_from(n).unwrap_or(0);
        }
        Ok(folded)
    }

    /// The views of the caller with their counts, from its groups' counts.
    async fn views_of(&self, caller: &Caller, groups: &[Group]) -> Result<Vec<ViewCount>> {
        let teams: Vec<String> = if caller.may_see_everything() {
            let mut all = self.user_teams().await?;
            all.extend(groups.iter().filter_map(|g| g.team.clone()));
            all.sort();
            all.dedup();
            all
        } else {
            caller.teams.clone()
        };
        let tiers: Vec<Tier> = match (caller.role, caller.tier) {
            (Role::Support, tier) => {
                let top = tier.unwrap_or(Tier::N1);
                Tier::ALL.iter().copied().filter(|t| *t <= top).collect()
            }
            _ => Tier::ALL.to_vec(),
        };
        let mut views = vec![View::Mine, View::Unassigned, View::All];
        views.extend(teams.into_iter().map(View::Team));
        views.extend(tiers.into_iter().map(View::Tier));
        Ok(views
            .into_iter()
            .map(|view| {
                let (open, unread) = groups
                    .iter()
                    .filter(|g| match &view {
                        View::Mine => g.mine,
                        View::Unassigned => g.unassigned,
                        View::All => true,
                        View::Team(t) => g.team.as_deref() == Some(t.as_str()),
                        View::Tier(t) => g.tier == t.as_str(),
                    })
                    .fold((0, 0), |(o, u), g| (o + g.open, u + g.unread));
                ViewCount { view, open, unread }
            })
            .collect())
    }

    /// Records that `user_id` opened the conversation at `now`: what the contact wrote
    /// until then is read. Time never goes back: an older `now` changes nothing.
    pub async fn mark_read(&self, user_id: &str, conversation_id: &str, now: i64) -> Result<()> {
        let later = match self.backend {
            Backend::Sqlite => "max(conversation_reads.read_at, excluded.read_at)",
            Backend::Postgres => "GREATEST(conversation_reads.read_at, excluded.read_at)",
        };
        let done = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO conversation_reads (user_id, conversation_id, read_at) \
             SELECT $1, id, $2 FROM conversations WHERE id = $3 \
             ON CONFLICT (user_id, conversation_id) DO UPDATE SET read_at = {later}"
        )))
        .bind(user_id)
        .bind(now)
        .bind(conversation_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("conversation {conversation_id}")));
        }
        Ok(())
    }

    /// Makes the conversation unread again for `user_id` (if the contact wrote in it).
    pub async fn mark_unread(&self, user_id: &str, conversation_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM conversation_reads WHERE user_id = $1 AND conversation_id = $2")
            .bind(user_id)
            .bind(conversation_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Contacts found by name or identity (accents and case ignored, as in the list's
    /// search), only those with a conversation the caller may see, latest activity first.
    pub async fn search_contacts(
        &self,
        caller: &Caller,
        text: &str,
        limit: i64,
    ) -> Result<Vec<ContactHit>> {
        let terms = search_terms(text);
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let limit = if limit <= 0 { 20 } else { limit.min(100) };
        let mut sql = Sql::default();
        sql.push("SELECT c.contact_id, COUNT(*) AS conversations, MAX(c.last_message_at) AS last_message_at FROM conversations c WHERE ");
        let scope = sql.scope(caller);
        sql.push(&scope);
        match self.backend {
            Backend::Sqlite => {
                let p = sql.text(fts5_query(&terms, Some("contact")));
                sql.push(&format!(
                    " AND c.number IN (SELECT rowid >> {CHUNK_BITS} FROM conversation_fts WHERE conversation_fts MATCH {p})"
                ));
            }
            Backend::Postgres => {
                let p = sql.text(tsquery(&terms, "&"));
                sql.push(&format!(
                    " AND c.contact_id IN (SELECT w.contact_id FROM contact_search w \
                     WHERE w.words @@ to_tsquery('switchboard_search', {p}))"
                ));
            }
        }
        let n = sql.int(limit);
        sql.push(&format!(
            " GROUP BY c.contact_id ORDER BY 3 DESC, 1 LIMIT {n}"
        ));
        let mut hits = Vec::new();
        for row in sql.fetch_all(&self.pool).await? {
            hits.push(ContactHit {
                contact_id: row.try_get("contact_id")?,
                name: None,
                company_id: None,
                company_name: None,
                identities: Vec::new(),
                conversations: row.try_get("conversations")?,
                last_message_at: row.try_get("last_message_at")?,
            });
        }
        if hits.is_empty() {
            return Ok(hits);
        }
        let ids: Vec<String> = hits.iter().map(|h| h.contact_id.clone()).collect();
        let mut sql = Sql::default();
        let list = sql.list(&ids);
        sql.push(&format!(
            "SELECT ct.id, ct.name, ct.company_id, co.name AS company_name FROM contacts ct \
             LEFT JOIN companies co ON co.id = ct.company_id WHERE ct.id IN ({list})"
        ));
        let mut identities = self.identities_of(&ids).await?;
        let index: HashMap<String, usize> =
            ids.into_iter().enumerate().map(|(i, id)| (id, i)).collect();
        for row in sql.fetch_all(&self.pool).await? {
            let id: String = row.try_get("id")?;
            if let Some(hit) = index.get(&id).and_then(|&i| hits.get_mut(i)) {
                hit.name = row.try_get("name")?;
                hit.company_id = row.try_get("company_id")?;
                hit.company_name = row.try_get("company_name")?;
            }
        }
        for hit in &mut hits {
            hit.identities = identities.remove(&hit.contact_id).unwrap_or_default();
        }
        Ok(hits)
    }

    /// Every team name in use: teams agents belong to and teams conversations are in.
    pub async fn teams(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT team FROM user_teams UNION SELECT team FROM conversations WHERE team IS NOT NULL ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn user_teams(&self) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT team FROM user_teams ORDER BY 1")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_lose_all_query_syntax() {
        assert_eq!(search_terms("Ação  URGENTE!"), vec!["ação", "urgente"]);
        assert_eq!(
            search_terms(r#""boleto" OR pix* NEAR(a b) -cancel col:x ^y {z} 'q' \n"#),
            vec![
                "boleto", "or", "pix", "near", "a", "b", "cancel", "col", "x", "y", "z", "q", "n"
            ][..MAX_TERMS]
                .to_vec()
        );
        assert!(search_terms(r#" "*-:()^ ' "#).is_empty());
        // A decomposed accent stays with its letter.
        assert_eq!(
            search_terms("ac\u{327}a\u{303}o"),
            vec!["ac\u{327}a\u{303}o"]
        );
        // A number typed in groups is one word.
        assert_eq!(search_terms("+55 11 99999-8888"), vec!["5511999998888"]);
        assert_eq!(search_terms("invoice 2024"), vec!["invoice", "2024"]);
        let long = "x".repeat(500);
        assert_eq!(search_terms(&long)[0].chars().count(), MAX_TERM_CHARS);
    }

    #[test]
    fn queries_quote_every_word() {
        let t = search_terms("Ação de novo");
        assert_eq!(fts5_query(&t, None), r#""ação"* AND "de" AND "novo"*"#);
        assert_eq!(
            fts5_query(&t, Some("contact")),
            r#"contact : "ação"* AND contact : "de" AND contact : "novo"*"#
        );
        assert_eq!(tsquery(&t, "&"), "'ação':* & 'de' & 'novo':*");
        assert_eq!(tsquery(&t, "|"), "'ação':* | 'de' | 'novo':*");
    }

    #[test]
    fn previews_are_one_short_line() {
        assert_eq!(
            one_line("  Olá,\n\n  tudo\tbem?\r\n", 140),
            "Olá, tudo bem?"
        );
        let long = "palavra ".repeat(40);
        let p = one_line(&long, 140);
        assert!(p.ends_with('…'), "{p}");
        assert_eq!(p.chars().count(), 140);
        assert_eq!(one_line(&"x".repeat(140), 140), "x".repeat(140));
        assert_eq!(one_line("a\u{7}b", 140), "a b");
    }

    #[test]
    fn snippets_keep_only_their_marks() {
        assert_eq!(
            clean_snippet("Preciso de \u{2}ação\u{3}\nurgente\u{7}"),
            Some("Preciso de \u{2}ação\u{3} urgente".into())
        );
        assert_eq!(clean_snippet("nothing marked"), None);
    }

    #[test]
    fn matches_are_marked_as_the_index_finds_them() {
        let t = |s: &str| search_terms(s);
        assert_eq!(
            mark_matches("Preciso de uma AÇÃO urgente.", &t("acao")).as_deref(),
            Some("Preciso de uma \u{2}AÇÃO\u{3} urgente.")
        );
        // Decomposed accents, prefixes of three letters or more, short words whole.
        assert_eq!(
            mark_matches("a fatura de marc\u{327}o", &t("fatur de")).as_deref(),
            Some("a \u{2}fatura\u{3} \u{2}de\u{3} marc\u{327}o")
        );
        assert_eq!(mark_matches("dedo", &t("de")), None);
        assert_eq!(mark_matches("nothing here", &t("boleto")), None);
        // Around the last match, with the cuts marked.
        let long = format!("{} boleto {}", "antes ".repeat(30), "depois ".repeat(30));
        let s = mark_matches(&long, &t("boleto")).unwrap();
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert_eq!(s.matches('\u{2}').count(), 1);
        assert_eq!(s.split_whitespace().count(), 8 + 1 + 12, "{s}");
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let c = Cursor {
            sort: SortBy::Priority,
            a: 4,
            b: 1_700_000_000_000,
            id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
        };
        assert_eq!(Cursor::decode(&c.encode(), SortBy::Priority).unwrap(), c);
        // Another order's cursor, garbage, a tampered id.
        assert!(Cursor::decode(&c.encode(), SortBy::LastActivity).is_err());
        assert!(Cursor::decode("zz", SortBy::Priority).is_err());
        assert!(Cursor::decode("", SortBy::Priority).is_err());
        let tampered = hex::encode("p|4|1|x' OR 1=1 --");
        assert!(matches!(
            Cursor::decode(&tampered, SortBy::Priority),
            Err(Error::Invalid(_))
        ));
        let not_number = hex::encode("p|four|1|abc");
        assert!(Cursor::decode(&not_number, SortBy::Priority).is_err());
    }

    #[test]
    fn priority_rank_matches_the_sql_order() {
        // The SQL key (PRIORITY_KEY and the index) ranks urgent > high > medium > low > none.
        let order = [
            Priority::Urgent,
            Priority::High,
            Priority::Medium,
            Priority::Low,
            Priority::None,
        ];
        for w in order.windows(2) {
            assert!(priority_rank(w[0]) > priority_rank(w[1]));
        }
        for p in order {
            assert!(
                PRIORITY_KEY.contains(&format!("'{}' THEN {}", p.as_str(), priority_rank(p)))
                    || p == Priority::None
            );
        }
    }

    #[test]
    fn plan_estimates_are_read_from_explain_lines() {
        assert_eq!(
            estimated_rows(
                "Bitmap Heap Scan on conversation_search s  (cost=73.31..4723.56 rows=1717 width=37)"
            ),
            Some(1717)
        );
        assert_eq!(
            estimated_rows("Result  (cost=0.00..0.01 rows=1 width=0)"),
            Some(1)
        );
        assert_eq!(estimated_rows("no estimate here"), None);
    }

    #[test]
    fn views_round_trip_through_their_keys() {
        for v in [
            View::Mine,
            View::Unassigned,
            View::All,
            View::Team("billing".into()),
            View::Tier(Tier::N2),
        ] {
            assert_eq!(View::parse(&v.key()).unwrap(), v);
        }
        assert!(View::parse("team:").is_err());
        assert!(View::parse("tier:N9").is_err());
        assert!(View::parse("everything").is_err());
    }
}
