//! Work the service does by itself as time passes: re-scoring provisional scorecards whose
//! pending items fell due, closing each team's day once it ended (plus the grace period), and
//! purging interaction bodies whose retention ended.
//!
//! When several replicas share a database, one of them at a time does a tick's work
//! ([`Store::exclusively`]); every piece of work is its own transaction, so a replica that
//! dies in the middle leaves nothing half-done and the next tick (anywhere) picks up the rest.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::privacy::PrivacyService;
use super::rollups::RollupService;
use super::scoring::ScoringService;
use crate::storage::Store;

/// Runs the time-driven work.
pub struct Scheduler {
    store: Arc<dyn Store>,
    scoring: Arc<ScoringService>,
    day_close: Option<Arc<RollupService>>,
    retention: Option<Arc<PrivacyService>>,
}

impl Scheduler {
    /// A scheduler over the services it drives; `day_close` when days close automatically,
    /// `retention` when interaction bodies are purged after a retention period.
    pub fn new(
        store: Arc<dyn Store>,
        scoring: Arc<ScoringService>,
        day_close: Option<Arc<RollupService>>,
        retention: Option<Arc<PrivacyService>>,
    ) -> Self {
        Self {
            store,
            scoring,
            day_close,
            retention,
        }
    }

    /// Does everything that is due now, once (unless another replica is doing it).
    pub async fn tick(&self) {
        match self
            .store
            .exclusively("scheduler", Box::pin(self.due_work()))
            .await
        {
            Ok(true) => {}
            Ok(false) => tracing::trace!("another replica is doing the scheduled work"),
            Err(error) => tracing::warn!(%error, "cannot claim the scheduled work; will retry"),
        }
    }

    async fn due_work(&self) {
        match self.scoring.rescore_due().await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "re-scored scorecards whose pending items fell due"),
            Err(error) => tracing::warn!(%error, "re-scoring due scorecards failed; will retry"),
        }
        if let Some(rollups) = &self.day_close {
            match rollups.close_ended_days().await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "closed team days that ended"),
                Err(error) => tracing::warn!(%error, "closing ended days failed; will retry"),
            }
        }
        // After the re-scores: a body purged now is re-scored later with politeness carried
        // over, as any body without text.
        if let Some(privacy) = &self.retention {
            match privacy.purge_expired().await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "purged interaction bodies past retention"),
                Err(error) => {
                    tracing::warn!(%error, "purging interaction bodies failed; will retry")
                }
            }
        }
    }

    /// Ticks every `interval` until `stop` turns true.
    pub async fn run(self: Arc<Self>, interval: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            self.tick().await;
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
        }
    }
}
