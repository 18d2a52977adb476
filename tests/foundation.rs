//! The foundation: health, reflection (v1 and v1alpha), per-RPC metrics that pass promtool,
//! and graceful shutdown.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{TestServer, require_tool};
use tokio::io::AsyncWriteExt;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const SERVSCORE_SERVICES: [&str; 5] = [
    "servscore.v1.ScoringService",
    "servscore.v1.StandardsService",
    "servscore.v1.TeamsService",
    "servscore.v1.PerformanceService",
    "servscore.v1.PrivacyService",
];

async fn health_status(
    client: &mut HealthClient<tonic::transport::Channel>,
    service: &str,
) -> ServingStatus {
    let response = client
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .expect("health check answers")
        .into_inner();
    ServingStatus::try_from(response.status).unwrap()
}

#[tokio::test]
async fn health_is_serving_for_the_server_and_every_service() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    assert_eq!(health_status(&mut health, "").await, ServingStatus::Serving);
    for service in SERVSCORE_SERVICES {
        assert_eq!(
            health_status(&mut health, service).await,
            ServingStatus::Serving,
            "{service}"
        );
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "servscore.v1.NoSuchService".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn health_watch_reports_serving_then_not_serving_on_shutdown() {
    let mut server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    let mut updates = health
        .watch(HealthCheckRequest {
            service: "servscore.v1.ScoringService".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = updates.next().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);
    server.begin_shutdown();
    let next = tokio::time::timeout(Duration::from_secs(10), updates.next())
        .await
        .expect("a health update arrives on shutdown");
    match next {
        Some(Ok(update)) => assert_eq!(update.status, ServingStatus::NotServing as i32),
        other => panic!("expected NOT_SERVING, got {other:?}"),
    }
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_every_service() {
    use tonic_reflection::pb::{v1, v1alpha};
    let server = TestServer::start().await;
    let channel = server.channel().await;

    let mut client_v1 = v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut responses = client_v1
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        responses.next().await.unwrap().unwrap().message_response
    else {
        panic!("v1 reflection did not list services");
    };
    let names: Vec<String> = list
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    for expected in SERVSCORE_SERVICES.iter().chain(&[
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ]) {
        assert!(
            names.iter().any(|name| name == expected),
            "v1 lists {expected}: {names:?}"
        );
    }

    let mut client_v1alpha =
        v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "servscore.v1.ScoringService".to_owned(),
            ),
        ),
    };
    let mut responses = client_v1alpha
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(files)) =
        responses.next().await.unwrap().unwrap().message_response
    else {
        panic!("v1alpha reflection did not return the file of ScoringService");
    };
    assert!(!files.file_descriptor_proto.is_empty());
}

/// Runs `promtool check metrics` on an exposition; returns its combined output on failure.
async fn promtool_check(exposition: &str) -> Result<(), String> {
    let promtool = require_tool("promtool", "apt-get install prometheus");
    let mut child = tokio::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .await
        .unwrap();
    let output = child.wait_with_output().await.unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The value of the sample whose line starts with `name{` and contains every label pair.
fn sample(exposition: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    exposition
        .lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .find(|line| {
            labels
                .iter()
                .all(|(key, value)| line.contains(&format!("{key}=\"{value}\"")))
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_count_each_rpc_by_method_and_code_and_pass_promtool() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    for _ in 0..3 {
        health_status(&mut health, "").await;
    }
    let _ = health
        .check(HealthCheckRequest {
            service: "no.such.Service".to_owned(),
        })
        .await
        .unwrap_err();

    let exposition = server.scrape_metrics().await;
    promtool_check(&exposition)
        .await
        .unwrap_or_else(|problems| panic!("promtool: {problems}"));

    let check = [
        ("grpc_service", "grpc.health.v1.Health"),
        ("grpc_method", "Check"),
    ];
    let started = sample(
        &exposition,
        "grpc_server_started_total",
        &[check[0], check[1], ("grpc_type", "unary")],
    );
    assert!(
        started.unwrap_or(0.0) >= 4.0,
        "started: {started:?}\n{exposition}"
    );
    let ok = sample(
        &exposition,
        "grpc_server_handled_total",
        &[check[0], check[1], ("grpc_code", "OK")],
    );
    assert!(ok.unwrap_or(0.0) >= 3.0, "handled OK: {ok:?}");
    let not_found = sample(
        &exposition,
        "grpc_server_handled_total",
        &[check[0], check[1], ("grpc_code", "NotFound")],
    );
    assert!(
        not_found.unwrap_or(0.0) >= 1.0,
        "handled NotFound: {not_found:?}"
    );
    let latency_count = sample(
        &exposition,
        "grpc_server_handling_seconds_count",
        &[check[0], check[1], ("grpc_code", "OK")],
    );
    assert!(
        latency_count.unwrap_or(0.0) >= 3.0,
        "histogram count: {latency_count:?}"
    );
    assert!(
        exposition.contains("grpc_type=\"client_stream\",grpc_service=\"servscore.v1.ScoringService\",grpc_method=\"IngestInteractions\""),
        "streaming methods carry their grpc_type"
    );
    assert!(
        exposition.contains("servscore_build_info{"),
        "build info is exported"
    );
    assert!(
        !exposition.contains("staff_id") && !exposition.contains("interaction_id"),
        "no per-entity labels"
    );
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_calls_and_refuses_new_ones() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;

    let mut server = TestServer::start_with(|config| {
        config.shutdown_grace_period = jiff::SignedDuration::from_secs(20);
    })
    .await;
    let channel = server.channel().await;
    let mut health = HealthClient::new(channel.clone());

    // A streaming call that stays in flight while the server shuts down.
    let (requests, request_stream) = tokio::sync::mpsc::channel(4);
    let list = || ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    requests.send(list()).await.unwrap();
    let mut responses = ServerReflectionClient::new(channel.clone())
        .server_reflection_info(ReceiverStream::new(request_stream))
        .await
        .unwrap()
        .into_inner();
    responses
        .next()
        .await
        .unwrap()
        .expect("first answer before shutdown");

    server.begin_shutdown();
    // Health flips to NOT_SERVING first.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
        {
            Ok(response) if response.get_ref().status == ServingStatus::NotServing as i32 => break,
            Err(_) => break,
            Ok(_) => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "health never left SERVING"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // New connections are refused once the listener is closed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let attempt =
            tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc_addr))
                .unwrap()
                .connect_timeout(Duration::from_secs(1))
                .connect()
                .await;
        if attempt.is_err() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "new connections still accepted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A new call on the old connection is refused too.
    let refused = tokio::time::timeout(
        Duration::from_secs(10),
        health.check(HealthCheckRequest {
            service: String::new(),
        }),
    )
    .await
    .expect("a new call is refused, not left hanging");
    // The server answers GOAWAY; depending on timing the client reports the refused call as
    // UNAVAILABLE (reconnect refused) or CANCELLED (connection closed under it).
    let refused = refused.unwrap_err();
    assert!(
        matches!(refused.code(), Code::Unavailable | Code::Cancelled),
        "refused: {refused:?}"
    );

    // The in-flight call still works, and the server waits for it.
    requests.send(list()).await.unwrap();
    let answer = responses
        .next()
        .await
        .unwrap()
        .expect("in-flight call answered during shutdown");
    assert!(answer.message_response.is_some());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !server.is_finished(),
        "the server waits for the in-flight call"
    );

    drop(requests);
    assert!(
        responses.next().await.is_none(),
        "the call completes normally"
    );
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn shutdown_stops_waiting_after_the_grace_period() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    let mut server = TestServer::start_with(|config| {
        config.shutdown_grace_period = jiff::SignedDuration::from_millis(300);
    })
    .await;
    let (_requests, request_stream) = tokio::sync::mpsc::channel(1);
    let _stuck = ServerReflectionClient::new(server.channel().await)
        .server_reflection_info(ReceiverStream::new(request_stream))
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    server.begin_shutdown();
    server.stop().await.expect("stops");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250),
        "waited for the grace period: {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "then forced: {waited:?}");
}
