//! The service layer: what the API does, between the handlers (wire) and storage. Pure
//! scoring and rollup logic lives in `scoring` and `rollup`; this layer adds time, caching,
//! idempotency and change notification.

pub mod amend;
pub mod catalog;
pub mod changes;
pub mod clock;
pub mod error;
pub mod page_token;
pub mod privacy;
pub mod rollup_cache;
pub mod rollups;
pub mod scheduler;
pub mod scoring;
pub mod standards;
pub mod teams;
