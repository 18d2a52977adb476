//! Security and hostile input: the method × token-scope matrix, TLS and mutual-TLS handshakes,
//! each transport limit just under and just over, a panicking handler, and a forced storage
//! error whose status is checked for leaks.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::TestServer;
use common::scoring::chat;
use prost::Message as _;
use prost_reflect::DescriptorPool;
use servscore::config::DatabaseLocation;
use servscore::ops::auth::sha256_hex;
use servscore::proto::FILE_DESCRIPTOR_SET;
use servscore::proto::v1 as pb;
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

const INGEST: &str = "ingest-secret";
const READ: &str = "read-secret";
const ADMIN: &str = "admin-secret";
const ALL: &str = "all-secret";

/// The scope each servscore method needs, written out here independently of the server's
/// table. Every method of the API must be listed (checked against the descriptors).
fn expected_scopes() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("ScoringService/ScoreInteraction", "ingest"),
        ("ScoringService/PreviewScore", "ingest"),
        ("ScoringService/IngestInteractions", "ingest"),
        ("ScoringService/AmendInteraction", "ingest"),
        ("ScoringService/GetScorecard", "read"),
        ("ScoringService/ListScorecards", "read"),
        ("ScoringService/GetInteraction", "read"),
        ("StandardsService/CreateStandard", "admin"),
        ("StandardsService/GetStandard", "read"),
        ("StandardsService/ListStandards", "read"),
        ("TeamsService/CreateTeam", "admin"),
        ("TeamsService/UpdateTeam", "admin"),
        ("TeamsService/GetTeam", "read"),
        ("TeamsService/ListTeams", "read"),
        ("PerformanceService/GetStaffRollup", "read"),
        ("PerformanceService/ListStaffRollups", "read"),
        ("PerformanceService/GetTeamRollup", "read"),
        ("PerformanceService/ListTeamRollups", "read"),
        ("PerformanceService/CloseDay", "admin"),
        ("PerformanceService/GetDayClose", "read"),
        ("PerformanceService/WatchRollups", "read"),
        ("PerformanceService/GetLeaderboard", "read"),
        ("PerformanceService/VerifyRollups", "admin"),
        ("PrivacyService/EraseCustomerData", "admin"),
    ])
}

fn write_token_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("tokens.toml");
    let entry = |name: &str, token: &str, scopes: &str| {
        format!(
            "[[token]]\nname = \"{name}\"\nsha256 = \"{}\"\nscopes = [{scopes}]\n\n",
            sha256_hex(token)
        )
    };
    let text = [
        entry("ingester", INGEST, "\"ingest\""),
        entry("reader", READ, "\"read\""),
        entry("admin", ADMIN, "\"admin\""),
        entry("everything", ALL, "\"ingest\", \"read\", \"admin\""),
    ]
    .concat();
    // Only hashes are stored.
    for secret in [INGEST, READ, ADMIN, ALL] {
        assert!(!text.contains(secret));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// Every method of the servscore services: (`Service/Method`, client streaming, server
/// streaming).
fn every_method() -> Vec<(String, bool, bool)> {
    let pool = DescriptorPool::decode(FILE_DESCRIPTOR_SET).unwrap();
    pool.services()
        .filter(|service| service.package_name() == "servscore.v1")
        .flat_map(|service| {
            service
                .methods()
                .map(|method| {
                    (
                        format!("{}/{}", service.name(), method.name()),
                        method.is_client_streaming(),
                        method.is_server_streaming(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Calls `path` with an empty request message and the token, and returns
/// the status code of the call (OK also when a server stream starts).
async fn call_code(
    channel: &Channel,
    path: &str,
    server_streaming: bool,
    token: Option<&str>,
) -> Code {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let path = PathAndQuery::try_from(path.to_owned()).unwrap();
    let mut request = tonic::Request::new(());
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
        );
    }
    request.set_timeout(Duration::from_secs(5));
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let result = if server_streaming {
        grpc.server_streaming(request, path, codec)
            .await
            .map(|_| ())
    } else {
        grpc.unary(request, path, codec).await.map(|_| ())
    };
    match result {
        Ok(()) => Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test]
async fn every_method_against_every_token_scope() {
    let tokens = tempfile::tempdir().unwrap();
    let token_file = write_token_file(tokens.path());
    let server =
        TestServer::start_with(|config| config.auth.token_file = Some(token_file.clone())).await;
    let channel = server.channel().await;

    let expected = expected_scopes();
    let methods = every_method();
    let listed: Vec<&str> = methods.iter().map(|(name, ..)| name.as_str()).collect();
    assert_eq!(
        listed
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        expected.keys().copied().collect(),
        "every API method has a decided scope"
    );

    let tokens = [
        ("ingest", Some(INGEST)),
        ("read", Some(READ)),
        ("admin", Some(ADMIN)),
        ("all", Some(ALL)),
        ("none", None),
        ("unknown", Some("not-a-token")),
    ];
    let mut failures = Vec::new();
    for (method, _client_streaming, server_streaming) in &methods {
        let needs = expected[method.as_str()];
        for (holder, token) in tokens {
            let path = format!("/servscore.v1.{method}");
            let code = call_code(&channel, &path, *server_streaming, token).await;
            let wanted = match holder {
                "none" | "unknown" => Some(Code::Unauthenticated),
                "all" => None,
                scope if scope == needs => None,
                _ => Some(Code::PermissionDenied),
            };
            let ok = match wanted {
                Some(wanted) => code == wanted,
                // Allowed: whatever the empty request earns, but never an auth refusal.
                None => code != Code::Unauthenticated && code != Code::PermissionDenied,
            };
            if !ok {
                failures.push(format!(
                    "{method} with {holder} token: {code:?} (needs {needs})"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");

    // Health and reflection stay open.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(serving.status, 1, "SERVING without a token");
    let code = call_code(
        &channel,
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        true,
        None,
    )
    .await;
    assert_ne!(code, Code::Unauthenticated);

    // The refusal says what to do and never echoes the token.
    let mut scoring = pb::scoring_service_client::ScoringServiceClient::new(channel.clone());
    let mut request = tonic::Request::new(pb::GetScorecardRequest {
        interaction_id: "x".into(),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {INGEST}")).unwrap(),
    );
    let denied = scoring.get_scorecard(request).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(denied.message().contains("ingester") && denied.message().contains("read"));
    assert!(!denied.message().contains(INGEST));
    let missing = scoring
        .get_scorecard(pb::GetScorecardRequest::default())
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated);
    assert!(
        missing.message().contains("Bearer"),
        "{}",
        missing.message()
    );
}

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    /// A CA, a server certificate for localhost signed by it, a client certificate signed by
    /// it, and a client certificate signed by another CA.
    fn generate() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        let ca = |name: &str| {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
        };
        let good_ca = ca("servscore test CA");
        let other_ca = ca("someone else's CA");
        write("ca.pem", good_ca.pem());
        let leaf = |names: Vec<String>, issuer: &CertifiedIssuer<'_, KeyPair>| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(names)
                .unwrap()
                .signed_by(&key, issuer)
                .unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (cert, key) = leaf(vec!["localhost".into()], &good_ca);
        write("server.pem", cert);
        write("server.key", key);
        let (cert, key) = leaf(vec!["client".into()], &good_ca);
        write("client.pem", cert);
        write("client.key", key);
        let (cert, key) = leaf(vec!["intruder".into()], &other_ca);
        write("intruder.pem", cert);
        write("intruder.key", key);
        Self { dir }
    }
}

async fn tls_health(addr: std::net::SocketAddr, tls: ClientTlsConfig) -> Result<i32, String> {
    let channel = Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .map_err(|error| error.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|error| format!("connect: {error:?}"))?;
    tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .map(|response| response.into_inner().status)
        .map_err(|status| format!("{status:?}"))
}

#[tokio::test]
async fn tls_and_mutual_tls_handshakes() {
    let pki = Pki::generate();
    let ca = || {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(pki.read("ca.pem")))
            .domain_name("localhost")
    };

    // TLS: a client that trusts the CA talks; a plaintext client does not.
    let server = TestServer::start_with(|config| {
        config.tls.cert_file = Some(pki.path("server.pem"));
        config.tls.key_file = Some(pki.path("server.key"));
    })
    .await;
    assert_eq!(tls_health(server.grpc_addr, ca()).await, Ok(1));
    let plaintext = Endpoint::from_shared(format!("http://{}", server.grpc_addr))
        .unwrap()
        .timeout(Duration::from_secs(5))
        .connect()
        .await;
    if let Ok(channel) = plaintext {
        let refused = tonic_health::pb::health_client::HealthClient::new(channel)
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await;
        assert!(refused.is_err(), "plaintext must not reach a TLS server");
    }
    // A client that does not trust the server's CA refuses the handshake.
    let other = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pki.read("intruder.pem")))
        .domain_name("localhost");
    assert!(tls_health(server.grpc_addr, other).await.is_err());
    drop(server);

    // Mutual TLS: a client certificate from the configured CA is required.
    let server = TestServer::start_with(|config| {
        config.tls.cert_file = Some(pki.path("server.pem"));
        config.tls.key_file = Some(pki.path("server.key"));
        config.tls.client_ca_file = Some(pki.path("ca.pem"));
    })
    .await;
    let good = ca().identity(Identity::from_pem(
        pki.read("client.pem"),
        pki.read("client.key"),
    ));
    assert_eq!(tls_health(server.grpc_addr, good).await, Ok(1));
    let no_cert = tls_health(server.grpc_addr, ca()).await;
    assert!(no_cert.is_err(), "no client certificate: {no_cert:?}");
    let wrong_ca = ca().identity(Identity::from_pem(
        pki.read("intruder.pem"),
        pki.read("intruder.key"),
    ));
    let wrong = tls_health(server.grpc_addr, wrong_ca).await;
    assert!(
        wrong.is_err(),
        "client certificate of another CA: {wrong:?}"
    );
}

fn preview_of_size(bytes: usize) -> pb::PreviewScoreRequest {
    let mut request = pb::PreviewScoreRequest {
        interaction: Some(
            chat()
                .customer(0, "hello")
                .staff(30, "hello, how can I help?")
                .resolved(60)
                .0,
        ),
        evaluation_time: Some(common::at(0)),
        ..Default::default()
    };
    // Pad the id until the message is exactly `bytes` long (length prefixes grow with it).
    let mut pad = 0usize;
    for _ in 0..16 {
        request.interaction.as_mut().unwrap().interaction_id = "p".repeat(pad);
        let len = request.encoded_len();
        if len == bytes {
            return request;
        }
        pad = (pad + bytes).saturating_sub(len);
    }
    panic!("cannot size a request to exactly {bytes} bytes");
}

#[tokio::test]
async fn message_size_limit_just_under_and_just_over() {
    const LIMIT: usize = 64 * 1024;
    let server = TestServer::start_with(|config| config.limits.max_message_bytes = LIMIT).await;
    let mut scoring = server.scoring().await;
    // Just under the limit the message is decoded and validated (the huge id is refused by
    // validation, not by the transport).
    let under = scoring
        .preview_score(preview_of_size(LIMIT))
        .await
        .unwrap_err();
    assert_eq!(under.code(), Code::InvalidArgument, "{under:?}");
    let over = scoring
        .preview_score(preview_of_size(LIMIT + 1))
        .await
        .unwrap_err();
    // tonic's code for a message over the limit, with both sizes in the message.
    assert_eq!(over.code(), Code::OutOfRange, "{over:?}");
    assert!(
        over.message().contains(&format!("{}", LIMIT + 1))
            && over.message().contains(&LIMIT.to_string()),
        "the message gives both sizes: {}",
        over.message()
    );
}

#[tokio::test]
async fn metadata_size_limit_just_under_and_just_over() {
    const LIMIT: u32 = 4 * 1024;
    let server = TestServer::start_with(|config| config.limits.max_metadata_bytes = LIMIT).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    let with_metadata = |bytes: usize| {
        let mut request = tonic::Request::new(tonic_health::pb::HealthCheckRequest::default());
        request.metadata_mut().insert(
            "x-padding",
            MetadataValue::try_from("m".repeat(bytes)).unwrap(),
        );
        request
    };
    // hyper counts each header as name + value + 32 bytes; tonic's own headers take a few
    // hundred more.
    assert!(
        health
            .check(with_metadata(LIMIT as usize / 2))
            .await
            .is_ok()
    );
    let refused = health.check(with_metadata(LIMIT as usize + 1)).await;
    let refused = refused.expect_err("metadata over the limit is refused");
    // hyper refuses the header block with HTTP 431 before any gRPC handling.
    assert!(refused.message().contains("431"), "{refused:?}");
    // The connection survives a refused call.
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    assert!(health.check(with_metadata(16)).await.is_ok());
}

/// A bulk ingest stream that sends nothing and ends after `open`.
fn slow_stream(open: Duration) -> impl tokio_stream::Stream<Item = pb::IngestInteractionsRequest> {
    use futures_util::StreamExt;
    futures_util::stream::once(tokio::time::sleep(open)).filter_map(|()| async { None })
}

#[tokio::test]
async fn a_call_without_a_deadline_gets_the_default_and_a_client_deadline_wins() {
    let server = TestServer::start_with(|config| {
        config.limits.default_deadline = jiff::SignedDuration::from_millis(300);
    })
    .await;
    let mut scoring = server.scoring().await;
    let started = Instant::now();
    let expired = scoring
        .ingest_interactions(slow_stream(Duration::from_secs(3)))
        .await
        .unwrap_err();
    assert_eq!(expired.code(), Code::DeadlineExceeded, "{expired:?}");
    assert!(
        expired.message().contains("default"),
        "{}",
        expired.message()
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // Just under the default: fine.
    let quick = scoring
        .ingest_interactions(slow_stream(Duration::from_millis(50)))
        .await;
    assert!(quick.is_ok(), "{quick:?}");
    // A client deadline longer than the default is the one that counts.
    let mut request = tonic::Request::new(slow_stream(Duration::from_millis(800)));
    request.set_timeout(Duration::from_secs(5));
    let patient = scoring.ingest_interactions(request).await;
    assert!(patient.is_ok(), "{patient:?}");
}

#[tokio::test]
async fn beyond_the_concurrency_limit_calls_are_shed_at_once_and_health_still_answers() {
    let server = TestServer::start_with(|config| config.limits.max_concurrent_requests = 2).await;
    // Two calls in their handlers (bulk streams kept open) take the whole budget.
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut scoring = server.scoring().await;
        holders.push(tokio::spawn(async move {
            scoring
                .ingest_interactions(slow_stream(Duration::from_millis(1_500)))
                .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut scoring = server.scoring().await;
    let started = Instant::now();
    let shed = scoring
        .preview_score(preview_of_size(400))
        .await
        .unwrap_err();
    assert_eq!(shed.code(), Code::ResourceExhausted, "{shed:?}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "shed at once"
    );
    assert!(shed.message().contains("limit of 2"), "{}", shed.message());
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    assert_eq!(
        health
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .unwrap()
            .into_inner()
            .status,
        1
    );
    for holder in holders {
        assert!(holder.await.unwrap().is_ok());
    }
    // With the budget back, the same call is served (just under the limit).
    let served = scoring.preview_score(preview_of_size(400)).await;
    assert_ne!(
        served.map_err(|s| s.code()).err(),
        Some(Code::ResourceExhausted)
    );
}

/// A handler that panics, served behind the real guard layer.
struct Panicking;

#[tonic::async_trait]
impl pb::teams_service_server::TeamsService for Panicking {
    async fn create_team(
        &self,
        request: tonic::Request<pb::CreateTeamRequest>,
    ) -> Result<tonic::Response<pb::CreateTeamResponse>, tonic::Status> {
        let team = request.into_inner().team.unwrap_or_default();
        // A formatted message with request data: must not reach the client or the log.
        panic!("cannot handle team {}", team.display_name);
    }
    async fn update_team(
        &self,
        _: tonic::Request<pb::UpdateTeamRequest>,
    ) -> Result<tonic::Response<pb::UpdateTeamResponse>, tonic::Status> {
        panic!("deliberate");
    }
    async fn get_team(
        &self,
        _: tonic::Request<pb::GetTeamRequest>,
    ) -> Result<tonic::Response<pb::GetTeamResponse>, tonic::Status> {
        Ok(tonic::Response::new(pb::GetTeamResponse::default()))
    }
    async fn list_teams(
        &self,
        _: tonic::Request<pb::ListTeamsRequest>,
    ) -> Result<tonic::Response<pb::ListTeamsResponse>, tonic::Status> {
        Ok(tonic::Response::new(pb::ListTeamsResponse::default()))
    }
}

#[tokio::test]
async fn a_panicking_handler_fails_its_call_with_internal_and_the_server_keeps_serving() {
    use servscore::ops::guard::{GuardConfig, GuardLayer};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let guard = GuardLayer::new(GuardConfig {
        tokens: None,
        max_concurrent_requests: 4,
        default_deadline: Duration::from_secs(5),
    });
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(guard)
            .add_service(pb::teams_service_server::TeamsServiceServer::new(Panicking))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut teams = pb::teams_service_client::TeamsServiceClient::new(channel);
    for round in 0..5 {
        let failed = teams
            .create_team(pb::CreateTeamRequest {
                team: Some(pb::Team {
                    display_name: "Customer Jane Roe 13800138000".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap_err();
        assert_eq!(failed.code(), Code::Internal, "round {round}: {failed:?}");
        let id = failed
            .metadata()
            .get("x-correlation-id")
            .expect("a correlation id")
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            failed.message(),
            format!("internal error (correlation id {id})")
        );
        // Still serving, on the same connection, all permits returned.
        assert!(teams.get_team(pb::GetTeamRequest::default()).await.is_ok());
    }
    assert!(
        teams
            .list_teams(pb::ListTeamsRequest::default())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_storage_failure_leaks_no_driver_message_path_or_sql() {
    let server = TestServer::start().await;
    let mut scoring = server.scoring().await;
    let mut interaction = chat()
        .customer(0, "my parcel is late")
        .staff(30, "Sorry, let me check")
        .resolved(100)
        .0;
    interaction.interaction_id = "leak-check".into();
    // Break the store behind the service's back.
    let side = drop_interaction_tables(&server).await;
    assert!(side, "the side connection dropped the tables");
    let failed = scoring
        .score_interaction(pb::ScoreInteractionRequest {
            interaction: Some(interaction),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(failed.code(), Code::Internal | Code::Unavailable),
        "{failed:?}"
    );
    let message = failed.message().to_lowercase();
    for leak in [
        "sqlite",
        "sql",
        "table",
        "scorecards",
        "interactions",
        "select",
        "insert",
        "/tmp",
        ".db",
        "no such",
    ] {
        assert!(
            !message.contains(leak),
            "status message leaks {leak:?}: {}",
            failed.message()
        );
    }
    assert!(message.contains("correlation id"), "{}", failed.message());
}

/// Drops the interaction tables through a second connection to the database file.
async fn drop_interaction_tables(server: &TestServer) -> bool {
    const DROP: &str = "DROP TABLE revisions; DROP TABLE interactions;";
    match server.config.database() {
        DatabaseLocation::Sqlite(db) => rusqlite::Connection::open(db)
            .unwrap()
            .execute_batch(DROP)
            .is_ok(),
        DatabaseLocation::Postgres(url) => common::postgres::execute(&url, DROP).await.is_ok(),
    }
}

#[tokio::test]
async fn the_log_at_its_most_verbose_holds_no_transcript_or_customer_text() {
    const PHRASE: &str = "my secret parcel 7731";
    const CUSTOMER: &str = "customer-8812";
    let data = tempfile::tempdir().unwrap();
    // With PostgreSQL selected, the driver's own logging is checked too.
    let database = match common::postgres::selected() {
        true => Some(common::postgres::FreshDatabase::create().await),
        false => None,
    };
    let mut arguments = vec!["--log-filter", "trace"];
    if let Some(database) = &database {
        arguments.extend(["--database-url", database.url()]);
    }
    let mut server = common::BinaryServer::start(data.path(), &arguments).await;
    let channel = Endpoint::from_shared(format!("http://{}", server.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut scoring = pb::scoring_service_client::ScoringServiceClient::new(channel);
    let mut good = chat()
        .customer(0, PHRASE)
        .staff(30, "Sorry about that, let me check")
        .resolved(100)
        .0;
    good.customer_id = CUSTOMER.into();
    good.interaction_id = "log-check".into();
    scoring
        .score_interaction(pb::ScoreInteractionRequest {
            interaction: Some(good.clone()),
        })
        .await
        .unwrap();
    // Bad input that carries the text too.
    let mut bad = good.clone();
    bad.interaction_id = "log-check-bad".into();
    bad.turns[0].at = Some(common::at(-10_000_000));
    let refused = scoring
        .score_interaction(pb::ScoreInteractionRequest {
            interaction: Some(bad),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(!refused.message().contains(PHRASE));
    server.signal("TERM");
    assert!(server.wait().await.success());
    let mut lines = Vec::new();
    while let Ok(line) = server.logs.try_recv() {
        lines.push(line);
    }
    assert!(lines.len() > 3, "trace logging produced lines: {lines:?}");
    for line in &lines {
        assert!(!line.contains(PHRASE), "transcript text in the log: {line}");
        assert!(!line.contains(CUSTOMER), "customer id in the log: {line}");
    }
}
