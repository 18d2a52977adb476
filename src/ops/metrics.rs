//! Metric names, their descriptions, and the process-wide Prometheus recorder.
//!
//! Names follow Prometheus conventions (`_total` counters, `_seconds` histograms, snake_case).
//! Labels have bounded cardinality only: never a staff, customer or interaction id.

use std::sync::OnceLock;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// RPCs started, by `grpc_type`, `grpc_service`, `grpc_method`.
pub const GRPC_SERVER_STARTED_TOTAL: &str = "grpc_server_started_total";
/// RPCs completed, by `grpc_type`, `grpc_service`, `grpc_method`, `grpc_code`.
pub const GRPC_SERVER_HANDLED_TOTAL: &str = "grpc_server_handled_total";
/// RPC latency until the last response byte, by `grpc_type`, `grpc_service`, `grpc_method`,
/// `grpc_code`.
pub const GRPC_SERVER_HANDLING_SECONDS: &str = "grpc_server_handling_seconds";
/// Duration of a storage commit (a group-commit batch), by `backend`.
pub const STORAGE_COMMIT_SECONDS: &str = "servscore_storage_commit_seconds";
/// Writes per storage commit (group-commit batch size), by `backend`.
pub const STORAGE_COMMIT_BATCH_SIZE: &str = "servscore_storage_commit_batch_size";
/// Duration of a storage read, by `backend`.
pub const STORAGE_READ_SECONDS: &str = "servscore_storage_read_seconds";
/// Build information: always 1, with `version` and `rustc` labels.
pub const BUILD_INFO: &str = "servscore_build_info";

/// Latency buckets for RPCs and storage: 100 µs to 10 s.
const LATENCY_BUCKETS_SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Installs the Prometheus recorder (once per process), describes every metric and sets the
/// build info. Later calls return the same handle.
pub fn install() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_seconds".to_owned()),
                LATENCY_BUCKETS_SECONDS,
            )
            .expect("the bucket list is not empty")
            .set_buckets_for_metric(
                Matcher::Full(STORAGE_COMMIT_BATCH_SIZE.to_owned()),
                &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
            )
            .expect("the bucket list is not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed");
        describe();
        gauge!(
            BUILD_INFO,
            "version" => env!("CARGO_PKG_VERSION"),
            "rustc" => option_env!("CARGO_PKG_RUST_VERSION").unwrap_or("unknown"),
        )
        .set(1.0);
        handle
    })
}

/// Renders the Prometheus text exposition.
pub fn render() -> String {
    let handle = install();
    handle.run_upkeep();
    handle.render()
}

fn describe() {
    describe_counter!(
        GRPC_SERVER_STARTED_TOTAL,
        Unit::Count,
        "RPCs started on the server."
    );
    describe_counter!(
        GRPC_SERVER_HANDLED_TOTAL,
        Unit::Count,
        "RPCs completed on the server, regardless of success or failure."
    );
    describe_histogram!(
        GRPC_SERVER_HANDLING_SECONDS,
        Unit::Seconds,
        "Response latency of RPCs handled by the server, until the last message."
    );
    describe_gauge!(BUILD_INFO, "Build information of the running servscore.");
    describe_histogram!(
        STORAGE_COMMIT_SECONDS,
        Unit::Seconds,
        "Duration of a storage commit (one group-commit batch)."
    );
    describe_histogram!(
        STORAGE_COMMIT_BATCH_SIZE,
        Unit::Count,
        "Writes committed together in one storage transaction."
    );
    describe_histogram!(
        STORAGE_READ_SECONDS,
        Unit::Seconds,
        "Duration of a storage read."
    );
}
