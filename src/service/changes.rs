//! The in-process feed of rollup days that changed, for live watches. Each watcher has a
//! bounded queue and is told when it fell behind (it then resynchronises instead of slowing
//! writers down).
//!
//! With a database only this process writes (SQLite), the services announce what they wrote
//! themselves ([`ChangeHub::local`]). With a database several replicas share (PostgreSQL), a
//! write through another replica must reach this one's watchers too, so every change comes
//! from the store's change feed instead ([`ChangeHub::followed`] and [`follow`]): the feed is
//! read from the last sequence seen whenever a replica announces a commit, and at least every
//! [`FEED_POLL`], so nothing is missed across a lost notification or a reconnect.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use super::catalog::Catalog;
use crate::storage::{Notice, RollupKey, Store};

/// The longest a followed feed goes unread without a notification.
pub const FEED_POLL: Duration = Duration::from_secs(1);

/// Changes read from the feed at a time.
const FEED_BATCH: usize = 1_000;

/// Publishes and subscribes to rollup changes.
#[derive(Clone)]
pub struct ChangeHub {
    sender: broadcast::Sender<Arc<[RollupKey]>>,
    local: bool,
}

impl ChangeHub {
    /// A hub fed by this process's own writes; subscribers may lag `capacity` publications
    /// before they are told.
    pub fn local(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity).0,
            local: true,
        }
    }

    /// A hub fed by [`follow`]ing the store's change feed (this process's writes included).
    pub fn followed(capacity: usize) -> Self {
        Self {
            local: false,
            ..Self::local(capacity)
        }
    }

    /// Announces days this process changed (on a followed hub they arrive through the feed).
    pub fn publish(&self, touched: &[RollupKey]) {
        if self.local {
            self.announce(touched);
        }
    }

    /// Announces changed days to every subscriber (nothing is sent for none).
    fn announce(&self, touched: &[RollupKey]) {
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

/// Follows the store's change feed after sequence `cursor` into `hub`, and its catalog
/// notices into `catalog`, until the notices end.
pub async fn follow(
    store: Arc<dyn Store>,
    hub: ChangeHub,
    catalog: Arc<Catalog>,
    mut notices: broadcast::Receiver<Notice>,
    mut cursor: i64,
) {
    loop {
        let notice = tokio::select! {
            notice = notices.recv() => notice,
            () = tokio::time::sleep(FEED_POLL) => Ok(Notice::Rollups),
        };
        match notice {
            Ok(Notice::Rollups) => {}
            Ok(Notice::Catalog) => {
                catalog.invalidate_all();
                continue;
            }
            Ok(Notice::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                catalog.invalidate_all();
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
        loop {
            match store.changes_since(cursor, FEED_BATCH).await {
                Ok(changes) => {
                    let Some((last, _)) = changes.last() else {
                        break;
                    };
                    cursor = *last;
                    let full = changes.len() == FEED_BATCH;
                    let keys: Vec<RollupKey> = changes.into_iter().map(|(_, key)| key).collect();
                    hub.announce(&keys);
                    if !full {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "reading the change feed failed; will retry");
                    break;
                }
            }
        }
    }
}
