//! Work the service does by itself as time passes: re-scoring provisional scorecards whose
//! pending items fell due.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::scoring::ScoringService;

/// Runs the time-driven work.
pub struct Scheduler {
    scoring: Arc<ScoringService>,
}

impl Scheduler {
    /// A scheduler over the services it drives.
    pub fn new(scoring: Arc<ScoringService>) -> Self {
        Self { scoring }
    }

    /// Does everything that is due now, once.
    pub async fn tick(&self) {
        match self.scoring.rescore_due().await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "re-scored scorecards whose pending items fell due"),
            Err(error) => tracing::warn!(%error, "re-scoring due scorecards failed; will retry"),
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
