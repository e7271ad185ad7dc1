//! Contacts: merging two into one, and proving an identity.
//!
//! **Architecture Invariant:** only verified identities decide whose messages are whose. A
//! sender's identity is vouched for by its channel; one a sender merely typed is stored
//! unverified and never attracts another sender's messages; proof
//! (`Store::verify_identity`) makes it verified and merges the prover into its owner
//! (`threads::typed_identities_never_attract_the_real_owners_mail`). A reply that names one
//! of a conversation's messages joins it only if its sender takes part in it
//! (`threads::replies_to_our_messages_thread_back_only_for_participants`).
//!
//! **Architecture Invariant:** a merge leaves every merged contact pointing straight at the
//! survivor (chains resolve in one step), and a message arriving mid-merge lands once, on
//! the survivor: on PostgreSQL a merge locks both contacts first, and a batch that attached
//! new rows to a contact checks afterwards that it was not merged meanwhile, and is
//! threaded again if it was (`threads::merges_move_everything_and_chains_resolve`,
//! `threads::a_message_arriving_mid_merge_lands_once_on_the_survivor`).

use sqlx::{AssertSqlSafe, Row};

use super::{Backend, Store};
use crate::clock::Ids;
use crate::domain::Identity;
use crate::error::{Error, Result};

/// A merge, statement by statement: `$1` is the survivor, `$2` the contact merged into it.
/// Every contact ever merged into `$2` points at the survivor afterwards (chains resolve
/// in one step). Verified identities are unique on their own and simply move; claims
/// move unless the survivor has them, and a claim on an identity the survivor holds
/// verified is no longer a claim. An open conversation whose thread the survivor also has
/// open keeps a thread of its own.
const MERGE_STEPS: [&str; 9] = [
    "UPDATE contacts SET merged_into = $1 WHERE id = $2 OR merged_into = $2",
    "UPDATE contact_identities SET contact_id = $1 WHERE contact_id = $2",
    "INSERT INTO contact_claims (kind, value, contact_id, created_at) \
     SELECT kind, value, $1, created_at FROM contact_claims WHERE contact_id = $2 ON CONFLICT DO NOTHING",
    "DELETE FROM contact_claims WHERE contact_id = $2 OR (contact_id = $1 AND EXISTS \
     (SELECT 1 FROM contact_identities i WHERE i.contact_id = $1 AND i.kind = contact_claims.kind AND i.value = contact_claims.value))",
    "UPDATE conversations SET thread_key = 'merged:' || id WHERE contact_id = $2 AND status <> 'resolved' AND EXISTS \
     (SELECT 1 FROM conversations o WHERE o.contact_id = $1 AND o.inbox = conversations.inbox AND o.thread_key = conversations.thread_key AND o.status <> 'resolved')",
    "INSERT INTO conversation_participants (conversation_id, contact_id, role, created_at) \
     SELECT conversation_id, $1, role, created_at FROM conversation_participants WHERE contact_id = $2 ON CONFLICT DO NOTHING",
    "UPDATE conversations SET contact_id = $1 WHERE contact_id = $2",
    "DELETE FROM conversation_participants WHERE contact_id = $2 OR (contact_id = $1 AND conversation_id IN \
     (SELECT id FROM conversations WHERE contact_id = $1))",
    "UPDATE messages SET author_id = $1 WHERE author_kind = 'contact' AND author_id = $2",
];

/// What a merge moved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Merged {
    pub survivor: String,
    pub merged: String,
    pub identities: u64,
    pub conversations: u64,
}

impl Store {
    /// The contact a contact id stands for now (itself, or the survivor of its merge).
    pub async fn surviving_contact(&self, contact_id: &str) -> Result<String> {
        let row = sqlx::query("SELECT id, merged_into FROM contacts WHERE id = $1")
            .bind(contact_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found(format!("contact {contact_id}")))?;
        let merged: Option<String> = row.try_get(1)?;
        Ok(merged.unwrap_or(row.try_get(0)?))
    }

    /// [`Store::surviving_contact`] of many at once (one read): each id found, with the
    /// contact it lives on as; unknown ids are missing.
    pub async fn surviving_contacts(
        &self,
        contact_ids: &[String],
    ) -> Result<std::collections::HashMap<String, String>> {
        let mut unique: Vec<&str> = contact_ids.iter().map(String::as_str).collect();
        unique.sort_unstable();
        unique.dedup();
        let mut out = std::collections::HashMap::with_capacity(unique.len());
        for chunk in unique.chunks(1000) {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id, merged_into FROM contacts WHERE id IN ({})",
                super::ingest::placeholders(1, chunk.len())
            )));
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&self.pool).await? {
                let id: String = row.try_get(0)?;
                let merged: Option<String> = row.try_get(1)?;
                out.insert(id.clone(), merged.unwrap_or(id));
            }
        }
        Ok(out)
    }

    /// Merges contact `from` into `into`: identities, conversations, participations and
    /// authored messages move to the survivor, and every contact ever merged into `from`
    /// now points at the survivor too, so chains of merges resolve in one step at any
    /// depth. An open conversation of `from` whose thread `into` also has open keeps its
    /// own thread (`merged:<id>`): nothing is lost or mixed. Both contacts are locked
    /// first; threading notices a merge that overtook it and threads its batch again
    /// (see `ingest::none_merged`), so a message arriving mid-merge lands exactly once, on
    /// the survivor.
    pub async fn merge_contacts(&self, ids: &Ids, from: &str, into: &str) -> Result<Merged> {
        let from = self.surviving_contact(from).await?;
        let into = self.surviving_contact(into).await?;
        if from == into {
            return Err(Error::invalid("a contact cannot be merged into itself"));
        }
        let now = ids.now_ms();
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            let mut both = [from.clone(), into.clone()];
            both.sort();
            let locked = sqlx::query(
                "SELECT id, merged_into FROM contacts WHERE id IN ($1, $2) ORDER BY id FOR UPDATE",
            )
            .bind(&both[0])
            .bind(&both[1])
            .fetch_all(&mut **tx)
            .await?;
            for row in locked {
                if row.try_get::<Option<String>, _>(1)?.is_some() {
                    return Err(Error::Conflict(
                        "one of the contacts was merged meanwhile; try again".into(),
                    ));
                }
            }
        }
        let mut moved = [0u64; MERGE_STEPS.len()];
        for (n, sql) in MERGE_STEPS.iter().enumerate() {
            moved[n] = sqlx::query(AssertSqlSafe(*sql))
                .bind(&into)
                .bind(&from)
                .execute(&mut **tx)
                .await?
                .rows_affected();
        }
        let (identities, conversations) = (moved[1], moved[6]);
        // Whoever was signed in to either contact's portal signs in again.
        super::users::end_contact_sessions(&mut tx, &from).await?;
        super::users::end_contact_sessions(&mut tx, &into).await?;
        sqlx::query("INSERT INTO events (id, conversation_id, kind, payload, created_at) VALUES ($1, NULL, 'contacts_merged', $2, $3)")
            .bind(ids.new_id())
            .bind(serde_json::json!({"merged": from, "survivor": into}).to_string())
            .bind(now)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(Merged {
            survivor: into,
            merged: from,
            identities,
            conversations,
        })
    }

    /// Whether merging the two contacts crosses a trust boundary: they belong to different
    /// companies (or one to none), or either has a portal user.
    pub async fn merge_crosses_boundary(&self, a: &str, b: &str) -> Result<bool> {
        let a = self.surviving_contact(a).await?;
        let b = self.surviving_contact(b).await?;
        let row = sqlx::query(
            "SELECT CAST(CASE WHEN COALESCE(x.company_id, '') = COALESCE(y.company_id, '') THEN 0 ELSE 1 END AS BIGINT), \
             (SELECT COUNT(*) FROM users u WHERE u.contact_id IN ($1, $2) OR u.contact_id IN \
              (SELECT id FROM contacts WHERE merged_into IN ($1, $2))) \
             FROM contacts x, contacts y WHERE x.id = $1 AND y.id = $2",
        )
        .bind(&a)
        .bind(&b)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Err(Error::not_found("contact"));
        };
        let companies_differ: i64 = row.try_get(0)?;
        let portal_users: i64 = row.try_get(1)?;
        Ok(companies_differ != 0 || portal_users > 0)
    }

    /// Forgets a web-chat visitor id of a contact (a portal sign-out): whoever keeps the id
    /// reads nothing of the contact's from now on.
    pub async fn forget_visitor(&self, contact_id: &str, visitor: &str) -> Result<()> {
        let contact = self.surviving_contact(contact_id).await?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM contact_identities WHERE kind = 'visitor' AND value = $1 AND contact_id = $2",
        )
        .bind(visitor)
        .bind(&contact)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that `contact_id` proved it owns `identity` (a link or code sent to it was
    /// used). If another contact already holds it verified, the two are one person: the
    /// prover merges into that contact. Returns the contact that holds it now.
    pub async fn verify_identity(
        &self,
        ids: &Ids,
        contact_id: &str,
        identity: &Identity,
    ) -> Result<String> {
        let contact_id = self.surviving_contact(contact_id).await?;
        if let Some(owner) = self.contact_for_identity(identity).await? {
            if owner == contact_id {
                return Ok(owner);
            }
            self.merge_contacts(ids, &contact_id, &owner).await?;
            return Ok(owner);
        }
        let now = ids.now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO contact_identities (kind, value, contact_id, created_at) VALUES ($1, $2, $3, $4)")
            .bind(identity.kind().as_str())
            .bind(identity.value())
            .bind(&contact_id)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(|e| {
                if super::is_unique_violation(&e) {
                    Error::Conflict("the identity was proved by another contact meanwhile".into())
                } else {
                    e.into()
                }
            })?;
        sqlx::query(
            "DELETE FROM contact_claims WHERE kind = $1 AND value = $2 AND contact_id = $3",
        )
        .bind(identity.kind().as_str())
        .bind(identity.value())
        .bind(&contact_id)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok(contact_id)
    }

    /// Notes an identity the contact merely typed (an address left in the chat widget) as
    /// an unverified claim, as threading notes a pre-chat email: it never decides whose
    /// messages are whose and proves nothing. A contact that holds it verified already
    /// gets no claim. Returns the contact the claim is on (the survivor of any merge).
    pub async fn claim_identity(
        &self,
        contact_id: &str,
        identity: &Identity,
        now: i64,
    ) -> Result<String> {
        let mut contact = self.surviving_contact(contact_id).await?;
        // A merge that overtakes the insert moves the claims it sees, not this one: put
        // it on the survivor, then, and look again.
        for _ in 0..4 {
            sqlx::query(
                "INSERT INTO contact_claims (kind, value, contact_id, created_at) \
                 SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM contact_identities i \
                 WHERE i.kind = $1 AND i.value = $2 AND i.contact_id = $3) ON CONFLICT DO NOTHING",
            )
            .bind(identity.kind().as_str())
            .bind(identity.value())
            .bind(&contact)
            .bind(now)
            .execute(&self.pool)
            .await?;
            let now_at = self.surviving_contact(&contact).await?;
            if now_at == contact {
                return Ok(contact);
            }
            sqlx::query(
                "DELETE FROM contact_claims WHERE kind = $1 AND value = $2 AND contact_id = $3",
            )
            .bind(identity.kind().as_str())
            .bind(identity.value())
            .bind(&contact)
            .execute(&self.pool)
            .await?;
            contact = now_at;
        }
        Err(Error::Conflict(
            "the contact keeps being merged; try again".into(),
        ))
    }

    /// The contact that holds an identity verified (its survivor, after merges); a claim
    /// proves nothing and finds nobody.
    pub async fn verified_owner(&self, identity: &Identity) -> Result<Option<String>> {
        let owner: Option<String> = sqlx::query_scalar(
            "SELECT contact_id FROM contact_identities WHERE kind = $1 AND value = $2",
        )
        .bind(identity.kind().as_str())
        .bind(identity.value())
        .fetch_optional(&self.pool)
        .await?;
        match owner {
            Some(c) => Ok(Some(self.surviving_contact(&c).await?)),
            None => Ok(None),
        }
    }

    /// Every identity of a contact, with whether it is verified.
    pub async fn contact_identities(&self, contact_id: &str) -> Result<Vec<(Identity, bool)>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT kind, value, CAST(1 AS BIGINT) AS verified FROM contact_identities WHERE contact_id = $1 \
             UNION ALL SELECT kind, value, CAST(0 AS BIGINT) AS verified FROM contact_claims WHERE contact_id = $1 ORDER BY 1, 2",
        )
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(kind, value, verified)| {
                Ok((
                    Identity::new(crate::domain::IdentityKind::parse(&kind)?, &value)?,
                    verified != 0,
                ))
            })
            .collect()
    }
}
