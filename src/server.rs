//! The server: gRPC services, reflection (v1 and v1alpha), health and `/metrics`, served on
//! listeners the caller bound, until a shutdown future resolves.
//!
//! Shutdown is graceful: health turns NOT_SERVING, the listener closes (new connections are
//! refused), HTTP/2 GOAWAY refuses new calls on open connections, in-flight calls finish; after
//! the grace period the server stops waiting.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::server::NamedService;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use tonic_health::ServingStatus;

use std::sync::Arc;
use std::time::Duration;

use crate::api::{PerformanceApi, PrivacyApi, ScoringApi, StandardsApi, TeamsApi};
use crate::app::{App, AppError};
use crate::config::Config;
use crate::ops::auth::{TokenFileError, Tokens};
use crate::ops::guard::{GuardConfig, GuardLayer};
use crate::ops::health::Health;
use crate::ops::rpc_layer::RpcObservabilityLayer;
use crate::ops::{metrics, metrics_http};
use crate::proto::FILE_DESCRIPTOR_SET;
use crate::proto::v1::performance_service_server::PerformanceServiceServer;
use crate::proto::v1::privacy_service_server::PrivacyServiceServer;
use crate::proto::v1::scoring_service_server::ScoringServiceServer;
use crate::proto::v1::standards_service_server::StandardsServiceServer;
use crate::proto::v1::teams_service_server::TeamsServiceServer;
use crate::service::clock::SystemClock;

/// The fully qualified names of the `servscore.v1` services.
pub const SERVICE_NAMES: [&str; 5] = [
    <ScoringServiceServer<ScoringApi> as NamedService>::NAME,
    <StandardsServiceServer<StandardsApi> as NamedService>::NAME,
    <TeamsServiceServer<TeamsApi> as NamedService>::NAME,
    <PerformanceServiceServer<PerformanceApi> as NamedService>::NAME,
    <PrivacyServiceServer<PrivacyApi> as NamedService>::NAME,
];

/// Descriptor sets of every service the server hosts: servscore, health and both reflection
/// versions (each reflection version lists the other too, so grpcurl sees them all).
const HOSTED_DESCRIPTOR_SETS: [&[u8]; 4] = [
    FILE_DESCRIPTOR_SET,
    tonic_health::pb::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
];

fn reflection() -> tonic_reflection::server::Builder<'static> {
    HOSTED_DESCRIPTOR_SETS.iter().fold(
        tonic_reflection::server::Builder::configure().include_reflection_service(false),
        |builder, set| builder.register_encoded_file_descriptor_set(set),
    )
}

/// The sockets the server listens on, bound by the caller (tests bind port 0 and keep them).
pub struct Listeners {
    /// gRPC (HTTP/2, plaintext).
    pub grpc: TcpListener,
    /// Prometheus `/metrics` (HTTP/1.1).
    pub metrics: TcpListener,
}

impl Listeners {
    /// Binds the addresses of the configuration.
    pub async fn bind(config: &Config) -> Result<Self, ServeError> {
        Ok(Self {
            grpc: bind(config.grpc_addr, "grpc_addr").await?,
            metrics: bind(config.metrics_addr, "metrics_addr").await?,
        })
    }
}

async fn bind(addr: SocketAddr, setting: &'static str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            setting,
            addr,
            source,
        })
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An address could not be bound.
    #[error("cannot listen on {setting} {addr}: {source}")]
    Bind {
        /// The configuration key of the address.
        setting: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The application could not start.
    #[error(transparent)]
    App(#[from] AppError),
    /// A listener has no local address.
    #[error("cannot read the listening address: {0}")]
    Address(std::io::Error),
    /// Reflection could not be built from the embedded descriptors.
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// A TLS file could not be read.
    #[error("cannot read {setting} {path}: {source}")]
    TlsFile {
        /// The configuration key.
        setting: &'static str,
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The token file cannot be used.
    #[error(transparent)]
    Tokens(#[from] TokenFileError),
    /// The gRPC transport failed.
    #[error("grpc server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// The TLS settings of the server, read from the configured PEM files (none: plaintext).
fn tls_config(config: &Config) -> Result<Option<ServerTlsConfig>, ServeError> {
    let (Some(cert_file), Some(key_file)) = (&config.tls.cert_file, &config.tls.key_file) else {
        return Ok(None);
    };
    let read = |setting: &'static str, path: &std::path::Path| {
        std::fs::read(path).map_err(|source| ServeError::TlsFile {
            setting,
            path: path.display().to_string(),
            source,
        })
    };
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(
        read("tls.cert_file", cert_file)?,
        read("tls.key_file", key_file)?,
    ));
    if let Some(client_ca_file) = &config.tls.client_ca_file {
        tls = tls
            .client_ca_root(Certificate::from_pem(read(
                "tls.client_ca_file",
                client_ca_file,
            )?))
            .client_auth_optional(false);
    }
    Ok(Some(tls))
}

/// Opens the application of `config` (system clock) and serves it on `listeners` until
/// `shutdown` resolves.
pub async fn run(
    listeners: Listeners,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    metrics::install();
    let app = App::open(config, Arc::new(SystemClock)).await?;
    serve(listeners, app, shutdown).await
}

/// Serves an opened application on `listeners` until `shutdown` resolves, then shuts down
/// gracefully within the configured grace period. Runs the scheduler and watches the store's
/// health meanwhile.
pub async fn serve(
    listeners: Listeners,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    metrics::install();
    let config = app.config.clone();
    let grpc_addr = listeners.grpc.local_addr().map_err(ServeError::Address)?;
    let metrics_addr = listeners
        .metrics
        .local_addr()
        .map_err(ServeError::Address)?;

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let health = Health::new(health_reporter, SERVICE_NAMES.to_vec());
    health.set_all(ServingStatus::Serving).await;

    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    let observability = RpcObservabilityLayer::new(&HOSTED_DESCRIPTOR_SETS);
    let limits = &config.limits;
    let tokens = match &config.auth.token_file {
        Some(file) => Some(Arc::new(Tokens::load(file)?)),
        None => {
            if !grpc_addr.ip().is_loopback() {
                tracing::warn!(
                    %grpc_addr,
                    "no auth.token_file: every caller that reaches this address may call every method"
                );
            }
            None
        }
    };
    let guard = GuardLayer::new(GuardConfig {
        tokens,
        max_concurrent_requests: limits.max_concurrent_requests,
        default_deadline: limits.default_deadline.unsigned_abs(),
    });
    let tls = tls_config(&config)?;
    let max_message = limits.max_message_bytes;
    // Every servscore service gets the same message size limit, decoding and encoding.
    macro_rules! size_limited {
        ($server:expr) => {
            $server
                .max_decoding_message_size(max_message)
                .max_encoding_message_size(max_message)
        };
    }

    // `true` once shutdown has begun: the metrics server and the grace timer wait on it.
    let (shutting_down, _) = watch::channel(false);
    let begin_shutdown = {
        let shutting_down = shutting_down.clone();
        let health = health.clone();
        async move {
            shutdown.await;
            tracing::info!("shutting down: refusing new calls, finishing in-flight ones");
            health.set_all(ServingStatus::NotServing).await;
            shutting_down.send_replace(true);
        }
    };

    let metrics_server = tokio::spawn(metrics_http::serve(
        listeners.metrics,
        wait_for(shutting_down.subscribe()),
    ));
    let scheduler = tokio::spawn(app.scheduler.clone().run(
        config.scheduler_interval.unsigned_abs(),
        shutting_down.subscribe(),
    ));
    let store_health = tokio::spawn(watch_store_health(
        app.clone(),
        health.clone(),
        shutting_down.subscribe(),
    ));

    let mut builder = Server::builder()
        .http2_keepalive_interval(Some(limits.keepalive_interval.unsigned_abs()))
        .http2_keepalive_timeout(Some(limits.keepalive_timeout.unsigned_abs()))
        .http2_max_header_list_size(limits.max_metadata_bytes);
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let grpc_server = builder
        .layer(observability)
        .layer(guard)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(size_limited!(ScoringServiceServer::new(ScoringApi(
            app.scoring.clone()
        ))))
        .add_service(size_limited!(StandardsServiceServer::new(StandardsApi(
            app.standards.clone()
        ))))
        .add_service(size_limited!(TeamsServiceServer::new(TeamsApi(
            app.teams.clone()
        ))))
        .add_service(size_limited!(PerformanceServiceServer::new(
            PerformanceApi(app.rollups.clone())
        )))
        .add_service(size_limited!(PrivacyServiceServer::new(PrivacyApi(
            app.privacy.clone()
        ))))
        .serve_with_incoming_shutdown(
            // Small responses must not wait for Nagle + delayed ACK (a 40 ms stall per call).
            TcpIncoming::from(listeners.grpc)
                .with_nodelay(Some(true))
                .with_keepalive(Some(limits.keepalive_interval.unsigned_abs())),
            begin_shutdown,
        );

    tracing::info!(
        %grpc_addr,
        %metrics_addr,
        version = env!("CARGO_PKG_VERSION"),
        "servscore serving"
    );

    let grace_period = config.shutdown_grace_period.unsigned_abs();
    let grace_expired = {
        let begun = wait_for(shutting_down.subscribe());
        async move {
            begun.await;
            tokio::time::sleep(grace_period).await;
        }
    };
    let result = tokio::select! {
        result = grpc_server => result.map_err(ServeError::from),
        () = grace_expired => {
            tracing::warn!(?grace_period, "grace period over: stopping with calls still in flight");
            Ok(())
        }
    };
    shutting_down.send_replace(true);
    let _ = scheduler.await;
    let _ = store_health.await;
    if let Ok(Err(error)) = metrics_server.await {
        tracing::warn!(%error, "metrics server stopped with an error");
    }
    tracing::info!("servscore stopped");
    result
}

/// Turns health NOT_SERVING while the store does not answer, and back when it does.
async fn watch_store_health(app: Arc<App>, health: Health, mut stop: watch::Receiver<bool>) {
    let mut serving = true;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        let ping = tokio::time::timeout(Duration::from_secs(5), app.store.ping()).await;
        let ok = matches!(ping, Ok(Ok(())));
        if ok != serving && !*stop.borrow() {
            serving = ok;
            if ok {
                tracing::info!("store answers again: serving");
                health.set_all(ServingStatus::Serving).await;
            } else {
                tracing::error!(?ping, "store does not answer: not serving");
                health.set_all(ServingStatus::NotServing).await;
            }
        }
    }
}

/// Resolves once the flag is `true` (or its sender is gone).
async fn wait_for(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|value| *value).await;
}
