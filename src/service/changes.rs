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
//!
//! The hub also keeps the [`RollupCache`]: whatever it announces is forgotten there first.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use super::catalog::Catalog;
use super::error::{ServiceError, ServiceResult};
use super::rollup_cache::RollupCache;
use crate::storage::{Notice, RollupKey, Store, StoreError};

/// The longest a followed feed goes unread without a notification.
pub const FEED_POLL: Duration = Duration::from_secs(1);

/// Changes read from the feed at a time.
const FEED_BATCH: usize = 1_000;

/// Publishes and subscribes to rollup changes.
#[derive(Clone)]
pub struct ChangeHub {
    sender: broadcast::Sender<Arc<[RollupKey]>>,
    local: bool,
    cache: Arc<RollupCache>,
}

impl ChangeHub {
    /// A hub fed by this process's own writes, with a rollup cache (no other process writes,
    /// so every change is announced here as it commits); subscribers may lag `capacity`
    /// publications before they are told.
    pub fn local(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity).0,
            local: true,
            cache: Arc::new(RollupCache::new()),
        }
    }

    /// A hub fed by [`follow`]ing the store's change feed (this process's writes included).
    /// Its rollup cache is disabled: another replica's write is heard of only after it was
    /// acknowledged, and a read on this replica must already see it.
    pub fn followed(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity).0,
            local: false,
            cache: Arc::new(RollupCache::disabled()),
        }
    }

    /// The rollup cache this hub keeps current.
    pub fn cache(&self) -> &RollupCache {
        &self.cache
    }

    /// Runs a store write that may change rollups to its end even if the caller stops waiting
    /// (a cancelled request), then `publish`es what it changed: no committed change goes
    /// unannounced, so no watcher misses it and no cached rollup outlives it.
    pub async fn committed<T: Send + 'static>(
        &self,
        write: impl Future<Output = Result<T, StoreError>> + Send + 'static,
        publish: impl FnOnce(&Self, &T) + Send + 'static,
    ) -> ServiceResult<T> {
        let hub = self.clone();
        let written = tokio::spawn(async move {
            let written = write.await?;
            publish(&hub, &written);
            Ok::<T, StoreError>(written)
        })
        .await
        .map_err(|error| ServiceError::Internal(format!("a store write panicked: {error}")))??;
        Ok(written)
    }

    /// Announces days this process changed (on a followed hub they arrive through the feed).
    pub fn publish(&self, touched: &[RollupKey]) {
        if self.local {
            self.announce(touched);
        }
    }

    /// Announces the staff days a day close changed; every staff day of that date in the team
    /// now shows the close, so the whole team's cached rollups are forgotten.
    pub fn publish_close(&self, team_id: &str, touched: &[RollupKey]) {
        if self.local {
            self.cache.forget_team(team_id);
            self.announce(touched);
        }
    }

    /// Announces changed days to every subscriber (nothing is sent for none), after
    /// forgetting their cached rollups.
    fn announce(&self, touched: &[RollupKey]) {
        self.cache.forget(touched);
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
