//! One tower layer around every RPC: the per-method Prometheus metrics
//! (`grpc_server_started_total`, `grpc_server_handled_total`, `grpc_server_handling_seconds`)
//! and the `Service.Method` tracing span the handler runs in.
//!
//! The status code of a call is read where gRPC puts it: in the response headers of a
//! trailers-only response (every error tonic returns from a unary handler), else in the
//! trailers at the end of the body. A call whose response is dropped before its trailers
//! (client gone) counts as `Canceled`.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use metrics::{Counter, Histogram, SharedString, counter, histogram};
use pin_project_lite::pin_project;
use prost::Message as _;
use tonic::Code;
use tower::{Layer, Service};

use super::metrics::{
    GRPC_SERVER_HANDLED_TOTAL, GRPC_SERVER_HANDLING_SECONDS, GRPC_SERVER_STARTED_TOTAL,
};

/// Every gRPC status code, indexed by its number.
const CODES: [Code; 17] = [
    Code::Ok,
    Code::Cancelled,
    Code::Unknown,
    Code::InvalidArgument,
    Code::DeadlineExceeded,
    Code::NotFound,
    Code::AlreadyExists,
    Code::PermissionDenied,
    Code::ResourceExhausted,
    Code::FailedPrecondition,
    Code::Aborted,
    Code::OutOfRange,
    Code::Unimplemented,
    Code::Internal,
    Code::Unavailable,
    Code::DataLoss,
    Code::Unauthenticated,
];

/// The conventional `grpc_code` label values (those of grpc-go's `codes.Code.String()`).
fn code_label(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// The metric handles of one method, resolved once.
struct MethodMetrics {
    grpc_type: &'static str,
    service: SharedString,
    method: SharedString,
    started: Counter,
    outcomes: [OnceLock<(Counter, Histogram)>; CODES.len()],
}

impl MethodMetrics {
    fn new(grpc_type: &'static str, service: String, method: String) -> Self {
        let service = SharedString::from(service);
        let method = SharedString::from(method);
        let started = counter!(
            GRPC_SERVER_STARTED_TOTAL,
            "grpc_type" => grpc_type,
            "grpc_service" => service.clone(),
            "grpc_method" => method.clone(),
        );
        let metrics = Self {
            grpc_type,
            service,
            method,
            started,
            outcomes: std::array::from_fn(|_| OnceLock::new()),
        };
        // Exported at zero from the start, so rates work before the first call.
        metrics.outcome(Code::Ok);
        metrics
    }

    fn outcome(&self, code: Code) -> &(Counter, Histogram) {
        self.outcomes[code as usize].get_or_init(|| {
            let labels = [
                ("grpc_type", SharedString::from(self.grpc_type)),
                ("grpc_service", self.service.clone()),
                ("grpc_method", self.method.clone()),
                ("grpc_code", SharedString::from(code_label(code))),
            ];
            (
                counter!(GRPC_SERVER_HANDLED_TOTAL, &labels),
                histogram!(GRPC_SERVER_HANDLING_SECONDS, &labels),
            )
        })
    }
}

/// Method path (`/pkg.Service/Method`) to its metrics; unknown paths share one entry so that a
/// scanner cannot create series.
struct MethodTable {
    methods: HashMap<String, Arc<MethodMetrics>>,
    unknown: Arc<MethodMetrics>,
}

impl MethodTable {
    fn from_descriptor_sets(encoded_sets: &[&[u8]]) -> Self {
        let mut methods = HashMap::new();
        for encoded in encoded_sets {
            let set = prost_types::FileDescriptorSet::decode(*encoded)
                .expect("embedded descriptor sets decode");
            for file in set.file {
                for service in &file.service {
                    let full_service = if file.package().is_empty() {
                        service.name().to_owned()
                    } else {
                        format!("{}.{}", file.package(), service.name())
                    };
                    for method in &service.method {
                        let grpc_type = match (method.client_streaming(), method.server_streaming())
                        {
                            (false, false) => "unary",
                            (true, false) => "client_stream",
                            (false, true) => "server_stream",
                            (true, true) => "bidi_stream",
                        };
                        let path = format!("/{full_service}/{}", method.name());
                        methods.entry(path).or_insert_with(|| {
                            Arc::new(MethodMetrics::new(
                                grpc_type,
                                full_service.clone(),
                                method.name().to_owned(),
                            ))
                        });
                    }
                }
            }
        }
        let unknown = Arc::new(MethodMetrics::new(
            "unknown",
            "unknown".to_owned(),
            "unknown".to_owned(),
        ));
        Self { methods, unknown }
    }

    fn lookup(&self, path: &str) -> Arc<MethodMetrics> {
        self.methods.get(path).unwrap_or(&self.unknown).clone()
    }
}

/// The layer: metrics and span for every RPC of the server it wraps.
#[derive(Clone)]
pub struct RpcObservabilityLayer {
    table: Arc<MethodTable>,
}

impl RpcObservabilityLayer {
    /// Builds the method table from the descriptor sets of every service the server hosts.
    /// The metrics recorder must be installed first.
    pub fn new(encoded_descriptor_sets: &[&[u8]]) -> Self {
        Self {
            table: Arc::new(MethodTable::from_descriptor_sets(encoded_descriptor_sets)),
        }
    }
}

impl<S> Layer<S> for RpcObservabilityLayer {
    type Service = RpcObservability<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcObservability {
            inner,
            table: self.table.clone(),
        }
    }
}

/// The service produced by [`RpcObservabilityLayer`].
#[derive(Clone)]
pub struct RpcObservability<S> {
    inner: S,
    table: Arc<MethodTable>,
}

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for RpcObservability<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>>,
{
    type Response = Response<ObservedBody<ResponseBody>>;
    type Error = S::Error;
    type Future = ObservedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        let path = request.uri().path();
        let method = self.table.lookup(path);
        method.started.increment(1);
        let span = crate::proto::rpc_span(path)
            .unwrap_or_else(|| tracing::info_span!("rpc", path = %path));
        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        ObservedFuture {
            inner,
            call: PendingCall(Some(CallRecord {
                method,
                start: Instant::now(),
            })),
            span,
        }
    }
}

/// A call whose outcome is not recorded yet.
struct CallRecord {
    method: Arc<MethodMetrics>,
    start: Instant,
}

impl CallRecord {
    fn finish(self, code: Code) {
        let elapsed = self.start.elapsed();
        let (handled, handling) = self.method.outcome(code);
        handled.increment(1);
        handling.record(elapsed.as_secs_f64());
        tracing::debug!(
            grpc_code = code_label(code),
            elapsed_us = elapsed.as_micros() as u64,
            "rpc finished"
        );
    }
}

/// Records `Canceled` if the call is dropped before its status was seen.
struct PendingCall(Option<CallRecord>);

impl PendingCall {
    fn finish(&mut self, code: Code) {
        if let Some(record) = self.0.take() {
            record.finish(code);
        }
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}

fn status_code(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?;
    let number: i32 = value.to_str().ok()?.parse().ok()?;
    Some(Code::from_i32(number))
}

pin_project! {
    /// The response future of [`RpcObservability`].
    pub struct ObservedFuture<F> {
        #[pin]
        inner: F,
        call: PendingCall,
        span: tracing::Span,
    }
}

impl<F, ResponseBody, E> Future for ObservedFuture<F>
where
    F: Future<Output = Result<Response<ResponseBody>, E>>,
{
    type Output = Result<Response<ObservedBody<ResponseBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let result = ready!(this.inner.poll(cx));
        let mut call = PendingCall(this.call.0.take());
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(code) = status_code(response.headers()) {
                    call.finish(code);
                }
                let span = this.span.clone();
                Ok(response.map(|inner| ObservedBody { inner, call, span }))
            }
            Err(error) => {
                call.finish(Code::Unknown);
                Err(error)
            }
        })
    }
}

pin_project! {
    /// The response body of [`RpcObservability`]: records the status found in the trailers.
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        call: PendingCall,
        span: tracing::Span,
    }
}

impl<B: Body> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let _entered = this.span.enter();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(trailers) = frame.trailers_ref() {
                    this.call
                        .finish(status_code(trailers).unwrap_or(Code::Unknown));
                }
            }
            Some(Err(_)) | None => this.call.finish(Code::Unknown),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
