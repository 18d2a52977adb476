//! The application: the store, caches and services wired together from a configuration and
//! a clock, shared by the gRPC handlers and the scheduler.

use std::sync::Arc;

use crate::builtin;
use crate::config::{Config, DatabaseLocation};
use crate::service::catalog::Catalog;
use crate::service::changes::{self, ChangeHub};
use crate::service::clock::Clock;
use crate::service::error::ServiceError;
use crate::service::privacy::PrivacyService;
use crate::service::rollups::RollupService;
use crate::service::scheduler::Scheduler;
use crate::service::scoring::ScoringService;
use crate::service::standards::StandardsService;
use crate::service::teams::TeamsService;
use crate::storage::postgres::{PostgresOptions, PostgresStore};
use crate::storage::sqlite::{SqliteOptions, SqliteStore};
use crate::storage::{Store, StoreError};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The store could not be opened or prepared.
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    /// Start-up work failed.
    #[error("cannot start: {0}")]
    Service(#[from] ServiceError),
}

/// Everything the handlers and the scheduler share.
pub struct App {
    /// The configuration.
    pub config: Config,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// Standards and teams cache.
    pub catalog: Arc<Catalog>,
    /// Rollup change feed.
    pub changes: ChangeHub,
    /// Scoring.
    pub scoring: Arc<ScoringService>,
    /// Standards.
    pub standards: Arc<StandardsService>,
    /// Teams.
    pub teams: Arc<TeamsService>,
    /// Rollups, day close, watch and leaderboards.
    pub rollups: Arc<RollupService>,
    /// Erasure of customer data and the retention purge.
    pub privacy: Arc<PrivacyService>,
    /// Time-driven work.
    pub scheduler: Arc<Scheduler>,
    /// Follows a shared database's change feed (see `changes::follow`).
    follower: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(follower) = &self.follower {
            follower.abort();
        }
    }
}

impl App {
    /// Opens the store of `config`, makes sure the built-in standard and the default team are
    /// stored, and wires the services.
    pub async fn open(config: Config, clock: Arc<dyn Clock>) -> Result<Arc<Self>, AppError> {
        let store: Arc<dyn Store> = match config.database() {
            DatabaseLocation::Sqlite(path) => {
                let options = SqliteOptions::default();
                let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path, &options))
                    .await
                    .map_err(|error| {
                        StoreError::Internal(format!("opening the database panicked: {error}"))
                    })??;
                tracing::info!(path = %store.path().display(), "sqlite store open");
                Arc::new(store)
            }
            DatabaseLocation::Postgres(url) => {
                let options = PostgresOptions {
                    max_connections: config.postgres.max_connections,
                    connect_timeout: config.postgres.connect_timeout.unsigned_abs(),
                    ..PostgresOptions::default()
                };
                let store = PostgresStore::open(&url, &options).await?;
                tracing::info!(
                    schema_version = crate::storage::postgres::SCHEMA_VERSION,
                    "postgres store open"
                );
                Arc::new(store)
            }
        };
        Self::with_store(config, clock, store).await
    }

    /// Wires the services over an open store.
    pub async fn with_store(
        config: Config,
        clock: Arc<dyn Clock>,
        store: Arc<dyn Store>,
    ) -> Result<Arc<Self>, AppError> {
        store
            .insert_standard_if_absent(builtin::default_standard())
            .await?;
        let catalog = Arc::new(Catalog::new(store.clone(), &config.default_time_zone));
        let notices = store.notices();
        let changes = match notices {
            Some(_) => ChangeHub::followed(1_024),
            None => ChangeHub::local(1_024),
        };
        let scoring = Arc::new(ScoringService::new(
            store.clone(),
            catalog.clone(),
            clock.clone(),
            config.limits.clone(),
            changes.clone(),
            config.privacy.keep_transcripts,
        ));
        let standards = Arc::new(StandardsService::new(
            store.clone(),
            catalog.clone(),
            clock.clone(),
        ));
        let teams = Arc::new(TeamsService::new(
            store.clone(),
            catalog.clone(),
            clock.clone(),
            &config.default_time_zone,
        ));
        teams.ensure_default_team().await?;
        let rollups = Arc::new(RollupService::new(
            store.clone(),
            catalog.clone(),
            clock.clone(),
            changes.clone(),
            config.day_close_grace,
        ));
        let privacy = Arc::new(PrivacyService::new(
            store.clone(),
            clock.clone(),
            config.privacy.retention,
        ));
        let scheduler = Arc::new(Scheduler::new(
            store.clone(),
            scoring.clone(),
            config.auto_close.then(|| rollups.clone()),
            privacy.purges().then(|| privacy.clone()),
        ));
        // The feed is followed from its end now: watchers start with a snapshot.
        let follower = match notices {
            Some(notices) => Some(tokio::spawn(changes::follow(
                store.clone(),
                changes.clone(),
                catalog.clone(),
                notices,
                store.change_seq().await?,
            ))),
            None => None,
        };
        Ok(Arc::new(Self {
            follower,
            config,
            clock,
            store,
            catalog,
            changes,
            scoring,
            standards,
            teams,
            rollups,
            privacy,
            scheduler,
        }))
    }
}
