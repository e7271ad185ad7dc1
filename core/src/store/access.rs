//! Who may see what. Every store query an agent-facing route uses takes the caller's
//! [`Caller`] (role, tier, teams, companies), so a route cannot forget the check: an id
//! in a URL is someone else's until the scope says otherwise.
//!
//! **Architecture Invariant:** an id outside the caller's `Caller` is "not found", like an
//! id that does not exist, and `Caller::may_see` applies the same rule to events
//! (`access::each_role_sees_its_own_and_nothing_else`). API tokens are read from the
//! `Authorization` header only, expire and can be revoked
//! (`access::tokens_expire_and_are_revoked`); the events socket opens with a single-use
//! ticket (`access::websocket_tickets_are_single_use_and_short_lived`, e2e
//! `api::bad_requests_are_refused_and_change_nothing`). A source test holds the rule: every
//! public store function returning conversation or message data takes a `Caller` (or a
//! `ClientScope`), or is listed with the reason it may not (`store::tidy`).

use sqlx::AssertSqlSafe;

use super::{Store, rows};
use crate::clock::{Ids, random_token};
use crate::domain::{Conversation, Message, Role, Scope, Tier, User};
use crate::error::{Error, Result};

/// An authenticated agent and what it may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub role: Role,
    pub tier: Option<Tier>,
    pub teams: Vec<String>,
    pub companies: Vec<String>,
}

fn tiers_up_to(tier: Option<Tier>) -> &'static [&'static str] {
    match tier {
        Some(Tier::N3) => &["N1", "N2", "N3"],
        Some(Tier::N2) => &["N1", "N2"],
        _ => &["N1"],
    }
}

impl Caller {
    /// Admins and supervisors see everything; a coordinator, its companies' conversations;
    /// a technician, those of the companies it works for (its machines' and visits') and
    /// what is assigned to it; a support agent, what is assigned to it, and unassigned conversations of its teams
    /// (or of no team) at its tier or below; clients, nothing of the agent side.
    ///
    /// An event addressed to one user (its scope names a recipient) is that user's only.
    pub fn may_see(&self, scope: &Scope) -> bool {
        if let Some(recipient) = &scope.recipient {
            return recipient == &self.user_id;
        }
        match self.role {
            Role::Admin | Role::Supervisor => true,
            Role::Coordinator => scope
                .company_id
                .as_ref()
                .is_some_and(|c| self.companies.contains(c)),
            Role::Technician => {
                scope.assignee_id.as_deref() == Some(self.user_id.as_str())
                    || scope
                        .company_id
                        .as_ref()
                        .is_some_and(|c| self.companies.contains(c))
            }
            Role::Support => {
                if scope.assignee_id.as_deref() == Some(self.user_id.as_str()) {
                    return true;
                }
                scope.assignee_id.is_none()
                    && scope.team.as_ref().is_none_or(|t| self.teams.contains(t))
                    && tiers_up_to(self.tier).contains(&scope.tier.as_str())
            }
            Role::ClientUser | Role::ClientAdmin => false,
        }
    }

    /// Whether the caller may change a conversation or write into it (replies, notes,
    /// status, assignment, merges): admins everything; supervisors nothing (they only
    /// read); coordinators everything of their companies; support agents what they may
    /// see.
    pub fn may_write(&self, scope: &Scope) -> bool {
        if scope.recipient.is_some() {
            return false;
        }
        match self.role {
            Role::Admin => true,
            Role::Supervisor | Role::ClientUser | Role::ClientAdmin => false,
            Role::Coordinator | Role::Support | Role::Technician => self.may_see(scope),
        }
    }

    /// The conversation's scope checked for writing: not found when the caller may not
    /// see it (as for an id that does not exist), forbidden when it may only read it.
    pub fn check_write(&self, conversation: &Conversation) -> Result<()> {
        let scope = conversation.scope();
        if !self.may_see(&scope) {
            return Err(Error::not_found(format!(
                "conversation {}",
                conversation.id
            )));
        }
        if !self.may_write(&scope) {
            return Err(Error::Forbidden(format!(
                "you may read conversation #{} but not change it",
                conversation.number
            )));
        }
        Ok(())
    }

    pub fn may_see_everything(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Supervisor)
    }

    /// The same rule as [`Caller::may_see`], as a SQL condition on `conversations` whose
    /// binds start at `$first`; returns the condition and its binds.
    pub(crate) fn condition(&self, first: usize) -> (String, Vec<String>) {
        let list = |from: usize, n: usize| {
            (from..from + n)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        match self.role {
            Role::Admin | Role::Supervisor => ("1 = 1".into(), Vec::new()),
            Role::Coordinator if self.companies.is_empty() => ("1 = 0".into(), Vec::new()),
            Role::Coordinator => (
                format!("company_id IN ({})", list(first, self.companies.len())),
                self.companies.clone(),
            ),
            Role::Technician if self.companies.is_empty() => (
                format!("assignee_id = ${first}"),
                vec![self.user_id.clone()],
            ),
            Role::Technician => {
                let mut binds = vec![self.user_id.clone()];
                binds.extend(self.companies.iter().cloned());
                (
                    format!(
                        "(assignee_id = ${first} OR company_id IN ({}))",
                        list(first + 1, self.companies.len())
                    ),
                    binds,
                )
            }
            Role::Support => {
                let mut binds = vec![self.user_id.clone()];
                let tiers = tiers_up_to(self.tier);
                let tier_list = list(first + 1, tiers.len());
                binds.extend(tiers.iter().map(|t| (*t).to_owned()));
                let teams = if self.teams.is_empty() {
                    "team IS NULL".to_owned()
                } else {
                    let l = list(first + binds.len(), self.teams.len());
                    binds.extend(self.teams.iter().cloned());
                    format!("(team IS NULL OR team IN ({l}))")
                };
                (
                    format!(
                        "(assignee_id = ${first} OR (assignee_id IS NULL AND tier IN ({tier_list}) AND {teams}))"
                    ),
                    binds,
                )
            }
            Role::ClientUser | Role::ClientAdmin => ("1 = 0".into(), Vec::new()),
        }
    }
}

use super::users::token_hash as hash;

impl Store {
    /// The caller a user is: its role with its teams and companies.
    pub async fn caller(&self, user: &User) -> Result<Caller> {
        let teams: Vec<String> =
            sqlx::query_scalar("SELECT team FROM user_teams WHERE user_id = $1 ORDER BY team")
                .bind(&user.id)
                .fetch_all(&self.pool)
                .await?;
        let mut companies: Vec<String> = sqlx::query_scalar(
            "SELECT company_id FROM user_companies WHERE user_id = $1 ORDER BY company_id",
        )
        .bind(&user.id)
        .fetch_all(&self.pool)
        .await?;
        if user.role == Role::Technician {
            companies.extend(self.technician_companies(&user.id).await?);
            companies.sort_unstable();
            companies.dedup();
        }
        Ok(Caller {
            user_id: user.id.clone(),
            role: user.role,
            tier: user.tier,
            teams,
            companies,
        })
    }

    pub async fn add_user_team(&self, user_id: &str, team: &str) -> Result<()> {
        if team.trim().is_empty() {
            return Err(Error::invalid("team name is empty"));
        }
        sqlx::query(
            "INSERT INTO user_teams (user_id, team) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(team.trim())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn add_user_company(&self, user_id: &str, company_id: &str) -> Result<()> {
        sqlx::query("INSERT INTO user_companies (user_id, company_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(user_id)
            .bind(company_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A conversation, if the caller may see it; otherwise "not found", the same answer
    /// as for an id that does not exist.
    pub async fn conversation_for(&self, caller: &Caller, id: &str) -> Result<Conversation> {
        let (condition, binds) = caller.condition(2);
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM conversations WHERE id = $1 AND {condition}",
            rows::CONVERSATION_COLUMNS
        )))
        .bind(id);
        for b in &binds {
            q = q.bind(b.as_str());
        }
        let row = q
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found(format!("conversation {id}")))?;
        rows::conversation(&row)
    }

    /// A thread, if the caller may see its conversation, with its internal notes.
    pub async fn messages_for(
        &self,
        caller: &Caller,
        conversation_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Message>> {
        self.conversation_for(caller, conversation_id).await?;
        self.read_thread(conversation_id, after, limit, true).await
    }

    /// A single-use ticket that opens `user_id`'s events socket within `ttl_ms`.
    pub async fn issue_ws_ticket(&self, ids: &Ids, user_id: &str, ttl_ms: i64) -> Result<String> {
        let ticket = format!("sbw_{}", random_token());
        let now = ids.now_ms();
        sqlx::query("DELETE FROM ws_tickets WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO ws_tickets (ticket_hash, user_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(hash(&ticket))
        .bind(user_id)
        .bind(now + ttl_ms)
        .execute(&self.pool)
        .await?;
        Ok(ticket)
    }

    /// Uses a ticket: the user it was issued to, once, before it expires.
    pub async fn redeem_ws_ticket(&self, ticket: &str, now: i64) -> Result<Option<User>> {
        let user_id: Option<String> = sqlx::query_scalar(
            "DELETE FROM ws_tickets WHERE ticket_hash = $1 RETURNING CASE WHEN expires_at >= $2 THEN user_id END",
        )
        .bind(hash(ticket))
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .flatten();
        match user_id {
            Some(id) => self.user_by_id(&id).await,
            None => Ok(None),
        }
    }

    /// An active user; a deactivated one is not found (it can no longer act).
    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM users WHERE id = $1 AND active = 1",
            rows::USER_COLUMNS
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::user).transpose()
    }

    /// Revokes one API token; true if it was live.
    pub async fn revoke_api_token(&self, token: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(hash(token))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Revokes every token of a user (a lost laptop, a person leaving).
    pub async fn revoke_user_tokens(&self, user_id: &str, now: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
