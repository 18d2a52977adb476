//! Data minimisation: erasing one customer's data on request (EraseCustomerData) and purging
//! interaction bodies once their retention ends (`privacy.retention`, run by the scheduler).
//!
//! Both keep every scorecard's scores, so the daily rollups do not change and stay equal to
//! their recomputation; both keep the structure of the interaction, so it can still be
//! re-scored (politeness is then carried over from the previous scorecard, see
//! `service::scoring`). Customer ids are never logged.

use std::sync::Arc;

use jiff::SignedDuration;

use super::clock::Clock;
use super::error::ServiceResult;
use crate::convert::Violations;
use crate::convert::interaction::MAX_ID_CHARS;
use crate::proto::v1 as pb;
use crate::storage::Store;

/// Bodies redacted per purge batch (one write transaction each).
const PURGE_BATCH: usize = 256;

/// The privacy service.
pub struct PrivacyService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    retention: SignedDuration,
}

impl PrivacyService {
    /// The service over a store; `retention` zero keeps bodies forever.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, retention: SignedDuration) -> Self {
        Self {
            store,
            clock,
            retention,
        }
    }

    /// Whether bodies are purged after a retention period.
    pub fn purges(&self) -> bool {
        self.retention.is_positive()
    }

    /// Erases the turn text, the customer id, the free text and the evidence snippets of
    /// every interaction (every revision) of one customer; returns how many interactions.
    pub async fn erase_customer_data(
        &self,
        request: pb::EraseCustomerDataRequest,
    ) -> ServiceResult<pb::EraseCustomerDataResponse> {
        let mut violations = Violations::default();
        violations.check_id("customer_id", &request.customer_id, true, MAX_ID_CHARS);
        violations.into_result(())?;
        let erased = self.store.erase_customer(&request.customer_id).await?;
        tracing::info!(interactions = erased, "customer data erased");
        Ok(pb::EraseCustomerDataResponse {
            interactions_erased: i64::try_from(erased).unwrap_or(i64::MAX),
        })
    }

    /// Redacts the bodies of interactions opened more than the retention period ago; returns
    /// how many. Does nothing when retention is zero (keep forever).
    pub async fn purge_expired(&self) -> ServiceResult<usize> {
        if !self.purges() {
            return Ok(0);
        }
        let Some(cutoff) = self.clock.now().checked_sub(self.retention).ok() else {
            return Ok(0);
        };
        let mut purged = 0;
        loop {
            let batch = self.store.purge_bodies(cutoff, PURGE_BATCH).await?;
            purged += batch;
            if batch < PURGE_BATCH {
                return Ok(purged);
            }
        }
    }
}
