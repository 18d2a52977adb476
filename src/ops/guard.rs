//! The guard around every RPC, inside the observability layer (so what it refuses is counted
//! with its code): authentication and scopes, a global concurrency limit that sheds load at
//! once, a default deadline for calls that send none, and panic containment.
//!
//! - Credentials are checked before anything else runs: UNAUTHENTICATED or PERMISSION_DENIED
//!   (see [`super::auth`]). Health and reflection are open.
//! - Beyond `max_concurrent_requests` calls in their handlers, a call fails at once with
//!   RESOURCE_EXHAUSTED instead of queueing (latency would collapse for everybody). The open
//!   services do not count, so health checks answer under any load.
//! - A call without `grpc-timeout` gets the configured default deadline: DEADLINE_EXCEEDED
//!   when it passes. (A client deadline is enforced by tonic itself.)
//! - A panic in a handler becomes INTERNAL for that call only, with a fixed message and a
//!   correlation id that is also logged; the server keeps serving.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt as _;
use http::{Request, Response};
use tokio::sync::Semaphore;
use tonic::Status;
use tower::{Layer, Service};

use super::auth::{Tokens, required_scope};
use crate::api::status::internal_with_correlation;

/// Settings of the guard.
#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// Tokens, when authentication is on.
    pub tokens: Option<Arc<Tokens>>,
    /// Calls in handlers at once.
    pub max_concurrent_requests: usize,
    /// Deadline of calls without `grpc-timeout`.
    pub default_deadline: Duration,
}

/// The tower layer of [`Guard`].
#[derive(Debug, Clone)]
pub struct GuardLayer {
    config: Arc<GuardConfig>,
    permits: Arc<Semaphore>,
}

impl GuardLayer {
    /// A guard with one shared concurrency budget for every connection.
    pub fn new(config: GuardConfig) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(config.max_concurrent_requests)),
            config: Arc::new(config),
        }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            config: self.config.clone(),
            permits: self.permits.clone(),
        }
    }
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    config: Arc<GuardConfig>,
    permits: Arc<Semaphore>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Guard<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<ResBody>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let refuse = |status: Status| -> Self::Future {
            Box::pin(std::future::ready(Ok(status.into_http())))
        };
        let path = request.uri().path();
        let scope = required_scope(path);
        if let (Some(scope), Some(tokens)) = (scope, &self.config.tokens) {
            let authorization = request
                .headers()
                .get(http::header::AUTHORIZATION)
                .map(|value| value.as_bytes());
            if let Err(status) = tokens.authorize(authorization, scope, path) {
                return refuse(status);
            }
        }
        let permit = match scope {
            None => None,
            Some(_) => match self.permits.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    return refuse(Status::resource_exhausted(format!(
                        "the server is handling its limit of {} calls; retry with backoff",
                        self.config.max_concurrent_requests
                    )));
                }
            },
        };
        let deadline = (scope.is_some() && !request.headers().contains_key("grpc-timeout"))
            .then_some(self.config.default_deadline);
        // The clone that was made ready is the one that is called (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let call = AssertUnwindSafe(inner.call(request)).catch_unwind();
        Box::pin(async move {
            let outcome = match deadline {
                Some(deadline) => match tokio::time::timeout(deadline, call).await {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        return Ok(Status::deadline_exceeded(format!(
                            "the call sent no deadline and ran past the server's default of {deadline:?}"
                        ))
                        .into_http());
                    }
                },
                None => call.await,
            };
            drop(permit);
            match outcome {
                Ok(result) => result,
                Err(panic) => {
                    let cause = panic_cause(panic.as_ref());
                    Ok(internal_with_correlation(&cause).into_http())
                }
            }
        })
    }
}

/// What may be logged of a panic: a literal message (it cannot hold request data), else only
/// that it panicked; the location is in the panic hook's log line.
fn panic_cause(payload: &(dyn std::any::Any + Send)) -> String {
    match payload.downcast_ref::<&'static str>() {
        Some(message) => format!("a handler panicked: {message}"),
        None => "a handler panicked (message withheld: it may hold request data)".to_owned(),
    }
}

/// Logs panics through `tracing` with their location only (a formatted message may hold
/// customer text), instead of the default hook's stderr line.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|location| format!("{}:{}", location.file(), location.line()))
            .unwrap_or_default();
        tracing::error!(%location, "panic");
    }));
}
