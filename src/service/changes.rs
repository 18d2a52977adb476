//! The in-process feed of rollup days that changed, for live watches. Writers publish the
//! (team, staff, date) keys they touched; each watcher has a bounded queue and is told when it
//! fell behind (it then resynchronises instead of slowing writers down).

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::storage::RollupKey;

/// Publishes and subscribes to rollup changes.
#[derive(Clone)]
pub struct ChangeHub {
    sender: broadcast::Sender<Arc<[RollupKey]>>,
}

impl ChangeHub {
    /// A hub whose subscribers may lag `capacity` publications before they are told.
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity).0,
        }
    }

    /// Announces touched days (nothing is sent for none).
    pub fn publish(&self, touched: &[RollupKey]) {
        if !touched.is_empty() {
            // No subscriber is not an error.
            let _ = self.sender.send(touched.into());
        }
    }

    /// A new subscription.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<[RollupKey]>> {
        self.sender.subscribe()
    }
}
