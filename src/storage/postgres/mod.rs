//! The shared PostgreSQL backend: several stateless servscore replicas on one database.
//!
//! - **Rollups** change only through `INSERT … ON CONFLICT DO UPDATE` that adds the deltas
//!   in the database, in the transaction that stores the scorecard; the interaction's row is
//!   locked (`SELECT … FOR UPDATE`) before the write is decided, so two replicas writing the
//!   same interaction take turns and the second one sees the first one's revision. A write
//!   that collides (a unique key taken by a concurrent first insert, a deadlock) is retried
//!   from the start and then finds the stored row: the same interaction sent to two replicas
//!   at once is stored once.
//! - **The change feed** (`rollup_changes`) is appended under one transaction-scoped advisory
//!   lock taken after the sums are updated and held until commit, so its sequence order is
//!   commit order: a reader that has seen sequence N has seen every change before N. The same
//!   lock makes a day close and the writes to that day take turns (a write either lands
//!   before the close and is in the sheet, or after it and is counted as a change after
//!   close). Each commit sends `NOTIFY servscore_rollups`; every replica LISTENs (see `feed`)
//!   and reads the table from its last sequence, so a listener that reconnects catches up.
//! - **Group commit**: scorecard writes of one replica are committed in batches (see
//!   `writer`), so the feed lock and busy rows are held for one commit per batch.
//! - **Scheduled work** is claimed with a session advisory lock (`pg_try_advisory_lock`), so
//!   one replica at a time re-scores and closes days; each piece of work is its own
//!   transaction, and a replica that dies releases the claim with its connection.
//!
//! The SQL is plain PostgreSQL (15 here) with nothing beyond advisory locks, LISTEN/NOTIFY
//! and identity columns.

mod error;
mod feed;
mod ingest;
mod queries;
mod writer;

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::broadcast;
use tokio_postgres::NoTls;

use crate::storage::{Notice, StoreError};

pub use self::error::from_postgres;

/// The numbered migrations; `servscore_schema` lists the ones applied.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("migrations/0001_init.sql"))];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Advisory lock keys (one namespace: "srvs" in the high 32 bits).
mod lock_key {
    const BASE: i64 = 0x7372_7673 << 32;
    /// Held while migrations run, so replicas starting together migrate once.
    pub const MIGRATE: i64 = BASE | 1;
    /// Held from the change-feed append to commit (sequence order = commit order).
    pub const FEED: i64 = BASE | 2;
    /// The claim of a named scheduled job.
    pub fn job(name: &str) -> i64 {
        let hash = blake3::hash(name.as_bytes());
        let low = u32::from_le_bytes(hash.as_bytes()[..4].try_into().expect("4 bytes"));
        BASE | 0x1000 | i64::from(low >> 8)
    }
}

/// Notification channels.
const ROLLUPS_CHANNEL: &str = "servscore_rollups";
const CATALOG_CHANNEL: &str = "servscore_catalog";

/// Tuning of the PostgreSQL backend.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Connections in the pool (besides the one that listens for notifications).
    pub max_connections: usize,
    /// How long opening a connection, or waiting for a free one, may take.
    pub connect_timeout: Duration,
    /// How long a statement waits for a lock before it fails (UNAVAILABLE), like SQLite's
    /// busy timeout: a write blocked behind someone else's lock does not hang.
    pub lock_timeout: Duration,
    /// How long one statement may run before the server cancels it.
    pub statement_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
            lock_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: Pool,
    writer: writer::Writer,
    notices: broadcast::Sender<Notice>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl PostgresStore {
    /// Connects to `url`, migrates the database, and starts listening for notifications.
    pub async fn open(url: &str, options: &PostgresOptions) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url).map_err(|error| {
            StoreError::FailedPrecondition(format!("the database URL is not valid: {error}"))
        })?;
        if config.get_application_name().is_none() {
            config.application_name("servscore");
        }
        config.connect_timeout(options.connect_timeout);
        config.keepalives_idle(Duration::from_secs(30));
        let settings = format!(
            "{} -c lock_timeout={} -c statement_timeout={}",
            config.get_options().unwrap_or_default(),
            options.lock_timeout.as_millis(),
            options.statement_timeout.as_millis()
        );
        config.options(settings.trim());
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(2))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|error| StoreError::Internal(format!("building the pool: {error}")))?;
        migrate(&mut pool.get().await?).await?;
        let (notices, _) = broadcast::channel(1_024);
        let listener = tokio::spawn(feed::listen(config, notices.clone()));
        Ok(Self {
            writer: writer::Writer::start(pool.clone(), 8_192),
            pool,
            notices,
            listener,
        })
    }

    async fn client(&self) -> Result<Object, StoreError> {
        Ok(self.pool.get().await?)
    }
}

async fn migrate(client: &mut Object) -> Result<(), StoreError> {
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key::MIGRATE])
        .await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS servscore_schema (
                 version bigint PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let version: i64 = transaction
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM servscore_schema",
            &[],
        )
        .await?
        .get(0);
    if version > SCHEMA_VERSION {
        return Err(StoreError::FailedPrecondition(format!(
            "the database schema is version {version}, newer than this servscore supports ({SCHEMA_VERSION}); upgrade servscore"
        )));
    }
    for (number, sql) in MIGRATIONS.iter().filter(|(number, _)| *number > version) {
        transaction.batch_execute(sql).await?;
        transaction
            .execute(
                "INSERT INTO servscore_schema (version) VALUES ($1)",
                &[number],
            )
            .await?;
        tracing::info!(schema_version = number, "postgres migration applied");
    }
    transaction.commit().await?;
    Ok(())
}
