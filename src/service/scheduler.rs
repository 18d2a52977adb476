//! Work the service does by itself as time passes: re-scoring provisional scorecards whose
//! pending items fell due, and closing each team's day once it ended (plus the grace period).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::rollups::RollupService;
use super::scoring::ScoringService;

/// Runs the time-driven work.
pub struct Scheduler {
    scoring: Arc<ScoringService>,
    day_close: Option<Arc<RollupService>>,
}

impl Scheduler {
    /// A scheduler over the services it drives; `day_close` when days close automatically.
    pub fn new(scoring: Arc<ScoringService>, day_close: Option<Arc<RollupService>>) -> Self {
        Self { scoring, day_close }
    }

    /// Does everything that is due now, once.
    pub async fn tick(&self) {
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
