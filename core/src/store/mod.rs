//! The `Store`: every table of the core, on SQLite or PostgreSQL through sqlx's `Any`
//! driver. One set of portable SQL serves both; the few places where the dialects differ
//! ask [`Backend`].
//!
//! Batching: on SQLite, transactions of several statements go through `Store::begin_write`,
//! which queues writers on an in-process lock before `BEGIN IMMEDIATE` (single statements
//! rely on SQLite's own locking and `busy_timeout`); the embedded stream defers
//! acknowledgements into the next claim and lingers briefly so bursts share one sync. On
//! PostgreSQL the router runs up to two batches at once, each split by sender into up to
//! four transactions.

mod access;
mod accounts;
mod attachments;
mod backup;
mod billing;
mod board;
mod bot_runs;
mod canned;
mod cards;
mod client_companies;
mod contacts;
mod contracts;
mod conversations;
mod email;
mod equipment;
mod inbox;
mod ingest;
pub mod kb;
mod magic_links;
mod notes;
mod notices;
mod outbound;
mod pages;
mod portal;
mod portal_users;
mod rate_limits;
mod rows;
mod secrets;
mod sites;
mod sso;
mod surveys;
mod tickets;
#[cfg(test)]
mod tidy;
mod users;
mod visits;
mod webhooks;
mod whatsapp;
mod workflow;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, AssertSqlSafe, Connection, Executor};

use crate::error::{Error, Result};

pub use access::Caller;
pub use accounts::{
    LinkPurpose, SECOND_FACTOR_LOCK_MS, SECOND_FACTOR_MAX_FAILURES, SESSION_TOUCH_MS, Session,
    SessionLimits, UserSummary, UserUpdate,
};
pub use billing::{Invoice, LedgerEntry, NewInvoice, PaymentOutcome};
pub use board::BoardRows;
pub use bot_runs::BotClaim;
pub use canned::{CannedInput, CannedResponse};
pub use contacts::Merged;
pub use contracts::{ClosedPeriod, Contract, ContractMachine, NewContract, PeriodInvoice};
pub use conversations::ConversationFilter;
pub use email::{EmailCursor, EmailStatus};
pub use equipment::{
    MACHINE_STATUSES, Machine, MachineRequest, MeterReading, NewMachine, NewReading, NewRequest,
    REQUEST_KINDS, ReadingOutcome, TONER_COLOURS,
};
pub use inbox::{
    ContactHit, ListFilter, ListItem, ListPage, ListQuery, SortBy, View, ViewCount, search_terms,
};
pub use ingest::{IngestOutcome, Ingested};
pub use magic_links::{LinkState, MagicLink, NewInvitation, NewLink};
pub use notes::{NewNotification, Notification, NotificationKind};
pub use notices::{NOTICE_CHANNELS, NOTICE_KINDS, NewNotice, Notice};
pub use outbound::{DeadLetter, NewOutbound, Queued, ReceiptOutcome, Recipient};
pub use pages::{ContactSummary, StoredCard};
pub use portal::{AuditEntry, ClientScope, CurrencyTotals, DocumentQuery};
pub use portal_users::{Invite, Invited, PendingInvitation, PortalUser};
pub use sites::{NewSite, Site};
pub use surveys::{NewSurvey, Survey, SurveyAnswer, SurveyGroup};
pub use tickets::{
    FirstMessage, NewTicket, Opened, TICKET_THREAD, Ticket, TicketQuery, is_ticket, ticket_status,
    ticket_thread,
};
pub use visits::{NewVisit, VISIT_STATUSES, Visit, VisitChange, VisitQuery};
pub use webhooks::{
    HOOK_KINDS, HookAttempt, HookClaim, HookDelivery, HookInput, HookNext, HookResult,
    NewHookEvent, Webhook,
};
pub use whatsapp::WaTemplate;
pub use workflow::ONLINE_MS;

/// The migrations, in order: (version, name, SQL). Applied by sqlx's `Migrator`, which
/// records a checksum of each (an edited migration is refused at start-up) and, on
/// PostgreSQL, holds an advisory lock so that one node migrates at a time.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "backbone",
        include_str!("../../../migrations/0001_backbone.sql"),
    ),
    (
        2,
        "second pass",
        include_str!("../../../migrations/0002_second_pass.sql"),
    ),
    (
        3,
        "secrets",
        include_str!("../../../migrations/0003_secrets.sql"),
    ),
    (
        4,
        "accounts",
        include_str!("../../../migrations/0004_accounts.sql"),
    ),
    (
        6,
        "workflow",
        include_str!("../../../migrations/0006_workflow.sql"),
    ),
    (
        9,
        "email",
        include_str!("../../../migrations/0009_email.sql"),
    ),
    (
        10,
        "email mailboxes",
        include_str!("../../../migrations/0010_email_mailboxes.sql"),
    ),
    (
        11,
        "email leases",
        include_str!("../../../migrations/0011_email_leases.sql"),
    ),
    (
        12,
        "magic links",
        include_str!("../../../migrations/0012_magic_links.sql"),
    ),
    (
        13,
        "billing",
        include_str!("../../../migrations/0013_billing.sql"),
    ),
    (
        14,
        "stripe events",
        include_str!("../../../migrations/0014_stripe_events.sql"),
    ),
    (
        15,
        "portal",
        include_str!("../../../migrations/0015_portal.sql"),
    ),
    (
        16,
        "portal lists",
        include_str!("../../../migrations/0016_portal_lists.sql"),
    ),
    (
        17,
        "tickets",
        include_str!("../../../migrations/0017_tickets.sql"),
    ),
    (
        18,
        "portal users",
        include_str!("../../../migrations/0018_portal_users.sql"),
    ),
    (
        19,
        "knowledge base",
        include_str!("../../../migrations/0019_kb.sql"),
    ),
    (
        23,
        "trust",
        include_str!("../../../migrations/0023_trust.sql"),
    ),
    (
        24,
        "whatsapp",
        include_str!("../../../migrations/0024_whatsapp.sql"),
    ),
    (
        25,
        "whatsapp notices",
        include_str!("../../../migrations/0025_whatsapp_notices.sql"),
    ),
    (
        26,
        "equipment",
        include_str!("../../../migrations/0026_equipment.sql"),
    ),
    (
        27,
        "contracts",
        include_str!("../../../migrations/0027_contracts.sql"),
    ),
    (
        28,
        "machine requests",
        include_str!("../../../migrations/0028_machine_requests.sql"),
    ),
    (
        29,
        "visits",
        include_str!("../../../migrations/0029_visits.sql"),
    ),
    (
        30,
        "service requests",
        include_str!("../../../migrations/0030_service_requests.sql"),
    ),
    (
        31,
        "notices",
        include_str!("../../../migrations/0031_notices.sql"),
    ),
    (
        32,
        "surveys",
        include_str!("../../../migrations/0032_surveys.sql"),
    ),
    (
        33,
        "sites",
        include_str!("../../../migrations/0033_sites.sql"),
    ),
    (
        34,
        "notification_events",
        include_str!("../../../migrations/0034_notification_events.sql"),
    ),
    (
        35,
        "client_companies",
        include_str!("../../../migrations/0035_client_companies.sql"),
    ),
    (
        36,
        "rate_limits",
        include_str!("../../../migrations/0036_rate_limits.sql"),
    ),
    (
        37,
        "webhooks",
        include_str!("../../../migrations/0037_webhooks.sql"),
    ),
];

/// Migrations whose SQL differs by backend: (version, name, SQLite SQL, PostgreSQL SQL).
/// Each backend sees one SQL text per version, so the migrator's checksums hold.
const BACKEND_MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        5,
        "inbox list",
        concat!(
            include_str!("../../../migrations/0005_inbox_list.sql"),
            include_str!("../../../migrations/0005_inbox_list.sqlite.sql")
        ),
        concat!(
            include_str!("../../../migrations/0005_inbox_list.sql"),
            include_str!("../../../migrations/0005_inbox_list.postgres.sql")
        ),
    ),
    (
        7,
        "inbox list speed",
        concat!(
            include_str!("../../../migrations/0007_inbox_list_speed.sql"),
            include_str!("../../../migrations/0007_inbox_list_speed.sqlite.sql")
        ),
        concat!(
            include_str!("../../../migrations/0007_inbox_list_speed.sql"),
            include_str!("../../../migrations/0007_inbox_list_speed.postgres.sql")
        ),
    ),
    (
        8,
        "message blobs",
        concat!(
            include_str!("../../../migrations/0008_message_blobs.sql"),
            include_str!("../../../migrations/0008_message_blobs.sqlite.sql")
        ),
        concat!(
            include_str!("../../../migrations/0008_message_blobs.sql"),
            include_str!("../../../migrations/0008_message_blobs.postgres.sql")
        ),
    ),
    (
        20,
        "trigger lookups",
        include_str!("../../../migrations/0020_trigger_lookups.sqlite.sql"),
        include_str!("../../../migrations/0020_trigger_lookups.postgres.sql"),
    ),
    (
        21,
        "trigger words once",
        include_str!("../../../migrations/0021_trigger_words_once.sqlite.sql"),
        include_str!("../../../migrations/0021_trigger_words_once.postgres.sql"),
    ),
    (
        22,
        "ticket batches",
        include_str!("../../../migrations/0022_ticket_batches.sqlite.sql"),
        include_str!("../../../migrations/0022_ticket_batches.postgres.sql"),
    ),
    (
        38,
        "search rows",
        include_str!("../../../migrations/0038_search_rows.sqlite.sql"),
        include_str!("../../../migrations/0038_search_rows.postgres.sql"),
    ),
    (
        39,
        "view tallies",
        include_str!("../../../migrations/0039_view_tallies.sqlite.sql"),
        include_str!("../../../migrations/0039_view_tallies.postgres.sql"),
    ),
    (
        40,
        "search words folded",
        include_str!("../../../migrations/0040_search_words_folded.sqlite.sql"),
        include_str!("../../../migrations/0040_search_words_folded.postgres.sql"),
    ),
    (
        41,
        "fold shares",
        include_str!("../../../migrations/0041_fold_shares.sqlite.sql"),
        include_str!("../../../migrations/0041_fold_shares.postgres.sql"),
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(Error::invalid(
                "database url must start with sqlite: or postgres://",
            ))
        }
    }
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// One SQLite writer at a time in this process (see [`Store::begin_write`]).
    sqlite_writer: Arc<tokio::sync::Mutex<()>>,
    /// PostgreSQL: a small pool of its own for taking counter values in short
    /// transactions (see [`Store::take_numbers`]).
    counters: Option<AnyPool>,
    /// The active webhook subscriptions as last read, and when (see
    /// `Store::record_hook_events`).
    hook_cache: webhooks::HookCache,
    /// The rows each view tally held after this process last folded it (see
    /// `Store::compact_inbox_tallies`).
    tally_rows: Arc<[std::sync::atomic::AtomicI64; 2]>,
    /// Up to how many conversations a search names its matches (see
    /// `Store::with_few_matches`).
    few_matches: usize,
}

/// A write transaction; on SQLite it also holds this process's writer lock.
pub struct WriteTx {
    // Dropped first: the transaction ends before the lock is released.
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::Transaction<'static, sqlx::Any>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// A pooled connection idle this long is checked (a round trip) before it is handed out;
/// one in steady use is not (checking every one costs a round trip per query, in both
/// processes). A connection that died meanwhile (the database restarted) fails its next
/// statement, and the pool drops it.
const PING_AFTER_IDLE: Duration = Duration::from_secs(30);

fn pool_options() -> AnyPoolOptions {
    AnyPoolOptions::new()
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

impl Store {
    /// The embedded default: a SQLite file in `data_dir`.
    pub fn sqlite_url(data_dir: &Path) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("switchboard.db").display()
        )
    }

    pub async fn connect(url: &str) -> Result<Self> {
        install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = &loopback_without_tls(url);
        let options = pool_options();
        let pool = match backend {
            // SQLite has one writer at a time; a few connections serve readers while the
            // writer works. WAL keeps readers from blocking on it, FULL sync keeps every
            // commit on disk before it is acknowledged.
            Backend::Sqlite => {
                options
                    .max_connections(4)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; PRAGMA wal_autocheckpoint=20000;").await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
            Backend::Postgres => options.max_connections(16).connect(url).await?,
        };
        let counters = match backend {
            Backend::Postgres => Some(pool_options().max_connections(2).connect(url).await?),
            Backend::Sqlite => None,
        };
        if backend == Backend::Sqlite {
            tokio::spawn(checkpointer(pool.clone()));
        }
        Ok(Self {
            pool,
            backend,
            sqlite_writer: Arc::new(tokio::sync::Mutex::new(())),
            counters,
            hook_cache: webhooks::HookCache::default(),
            tally_rows: Arc::default(),
            few_matches: inbox::FEW_MATCHES,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction that will write. On SQLite, writers queue on an in-process
    /// lock and then take the database's write lock up front (`BEGIN IMMEDIATE`): a reader
    /// that later writes could otherwise fail with "database is locked", and waiting in
    /// SQLite's busy handler sleeps in steps of up to 100 ms.
    pub async fn begin_write(&self) -> Result<WriteTx> {
        Ok(match self.backend {
            Backend::Sqlite => {
                let guard = self.sqlite_writer.clone().lock_owned().await;
                WriteTx {
                    tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _guard: Some(guard),
                }
            }
            Backend::Postgres => WriteTx {
                tx: self.pool.begin().await?,
                _guard: None,
            },
        })
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(c) = &self.counters {
            c.close().await;
        }
        self.pool.close().await;
    }

    /// The migrations this build knows, in order: (version, name).
    pub fn migrations() -> Vec<(i64, &'static str)> {
        let mut all: Vec<(i64, &'static str)> = MIGRATIONS
            .iter()
            .map(|(v, name, _)| (*v, *name))
            .chain(BACKEND_MIGRATIONS.iter().map(|(v, name, ..)| (*v, *name)))
            .collect();
        all.sort_by_key(|(v, _)| *v);
        all
    }

    /// Applies the migrations not yet applied; returns how many ran.
    pub async fn migrate(&self, _now_ms: i64) -> Result<usize> {
        use sqlx::SqlSafeStr;
        use sqlx::migrate::{Migration, MigrationType, Migrator};
        let mut all: Vec<(i64, &str, &str)> = MIGRATIONS.to_vec();
        all.extend(
            BACKEND_MIGRATIONS
                .iter()
                .map(|(version, name, sqlite, postgres)| match self.backend {
                    Backend::Sqlite => (*version, *name, *sqlite),
                    Backend::Postgres => (*version, *name, *postgres),
                }),
        );
        all.sort_by_key(|(version, ..)| *version);
        let migrator = Migrator::with_migrations(
            all.into_iter()
                .map(|(version, name, sql)| {
                    Migration::new(
                        version,
                        std::borrow::Cow::Borrowed(name),
                        MigrationType::Simple,
                        AssertSqlSafe(sql).into_sql_str(),
                        false,
                    )
                })
                .collect(),
        );
        let before = self.applied_migrations().await?;
        // SQLite: writers of this process queue on its lock, as every writer does.
        let _guard = match self.backend {
            Backend::Sqlite => Some(self.sqlite_writer.clone().lock_owned().await),
            Backend::Postgres => None,
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| Error::Migration(e.to_string()))?;
        drop(_guard);
        Ok(self.applied_migrations().await?.saturating_sub(before))
    }

    async fn applied_migrations(&self) -> Result<usize> {
        let n: Option<i64> = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&self.pool)
            .await
            .ok();
        Ok(usize::try_from(n.unwrap_or(0)).unwrap_or(0))
    }

    /// Takes `n` consecutive values of a counter for use in `tx`; returns the last one.
    ///
    /// On PostgreSQL they are taken in a short transaction of their own on a separate
    /// pool, so concurrent writers do not queue behind one another's whole transaction
    /// for the counter row (a `tx` that then fails leaves a gap in the numbers). On SQLite
    /// there is one writer anyway, and `tx` takes them itself.
    pub(crate) async fn take_numbers(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        name: &str,
        n: i64,
    ) -> Result<i64> {
        match self.take_numbers_apart(name, n).await? {
            Some(v) => Ok(v),
            None => Self::take_counter(tx, name, n).await,
        }
    }

    /// PostgreSQL: takes `n` consecutive values of a counter in a short transaction of
    /// their own and returns the last one (see [`Store::take_numbers`]). SQLite: `None`,
    /// its counters are taken inside the write transaction.
    pub(crate) async fn take_numbers_apart(&self, name: &str, n: i64) -> Result<Option<i64>> {
        let Some(pool) = &self.counters else {
            return Ok(None);
        };
        let v: i64 = sqlx::query_scalar(
            "UPDATE counters SET value = value + $1 WHERE name = $2 RETURNING value",
        )
        .bind(n)
        .bind(name)
        .fetch_one(pool)
        .await?;
        Ok(Some(v))
    }

    /// Takes `n` consecutive values of a counter inside `tx`; returns the last one. The row
    /// stays locked until `tx` ends, so values are handed out in commit order (the
    /// embedded stream's sequence relies on this).
    pub(crate) async fn take_counter(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        name: &str,
        n: i64,
    ) -> Result<i64> {
        let v: i64 = sqlx::query_scalar(
            "UPDATE counters SET value = value + $1 WHERE name = $2 RETURNING value",
        )
        .bind(n)
        .bind(name)
        .fetch_one(&mut **tx)
        .await?;
        Ok(v)
    }
}

/// Copies the SQLite WAL back into the database in the background. A PASSIVE checkpoint
/// never waits for writers, so commits stay short; the connections' own automatic
/// checkpoint (set high) is only a safety net.
async fn checkpointer(pool: AnyPool) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::raw_sql("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::debug!(error = %e, "checkpoint failed");
        }
    }
}

/// A PostgreSQL URL that names no `sslmode` is taken as libpq takes it (`prefer`: TLS when
/// the server offers it), except on the loopback, where encryption protects nothing and
/// costs every round trip: there it gets `sslmode=disable`. An explicit `sslmode` always
/// wins.
fn loopback_without_tls(url: &str) -> String {
    let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    else {
        return url.to_owned();
    };
    if url.contains("sslmode=") {
        return url.to_owned();
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let loopback = host.is_empty()
        || host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}sslmode=disable")
}

/// Whether an error is a unique-constraint violation, on either database.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::loopback_without_tls as f;

    #[test]
    fn tls_is_skipped_only_on_the_loopback_and_only_when_unasked() {
        assert_eq!(
            f("postgres://u@127.0.0.1:5432/db"),
            "postgres://u@127.0.0.1:5432/db?sslmode=disable"
        );
        assert_eq!(
            f("postgres://u:p@localhost/db?x=1"),
            "postgres://u:p@localhost/db?x=1&sslmode=disable"
        );
        assert_eq!(
            f("postgresql://[::1]:5432/db"),
            "postgresql://[::1]:5432/db?sslmode=disable"
        );
        assert_eq!(
            f("postgres://u@db.example.com/db"),
            "postgres://u@db.example.com/db"
        );
        assert_eq!(
            f("postgres://u@127.0.0.1/db?sslmode=require"),
            "postgres://u@127.0.0.1/db?sslmode=require"
        );
        assert_eq!(f("sqlite://x.db"), "sqlite://x.db");
    }
}
