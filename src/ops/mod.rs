//! Operational surfaces: metrics, the per-RPC layer, health, logs and shutdown.

pub mod health;
pub mod logging;
pub mod metrics;
pub mod metrics_http;
pub mod rpc_layer;
pub mod shutdown;
