//! Operational surfaces: metrics, the per-RPC layer, the guard (auth, limits, panics),
//! health, logs and shutdown.

pub mod auth;
pub mod guard;
pub mod health;
pub mod logging;
pub mod metrics;
pub mod metrics_http;
pub mod rpc_layer;
pub mod shutdown;
