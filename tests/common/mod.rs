//! Test harness: an in-process server on `127.0.0.1:0` (listeners kept and handed over),
//! generated clients, and small helpers for the operational surfaces.
#![allow(dead_code)]

pub mod postgres;
pub mod scoring;

use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;

use servscore::app::App;
use servscore::config::Config;
use servscore::proto::v1 as pb;
use servscore::server::{self, Listeners, ServeError};
use servscore::service::clock::ManualClock;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};

/// The instant the manual clock of a test server starts at: Monday 2026-11-23 12:00 UTC.
pub const START: i64 = 1_795_435_200;

/// A running in-process server with its own data directory and a manual clock.
pub struct TestServer {
    pub grpc_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub config: Config,
    pub clock: Arc<ManualClock>,
    pub app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), ServeError>>>,
    _data_dir: TempDir,
    _database: Option<postgres::FreshDatabase>,
}

impl TestServer {
    /// Starts a server with the default configuration and a fresh data directory.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after `configure` adjusted its configuration. Its store is SQLite in
    /// a fresh data directory, or a fresh PostgreSQL database when the run selected
    /// PostgreSQL (`TEST_BACKEND=postgres`).
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Self {
        let data_dir = tempfile::tempdir().expect("temporary data directory");
        let database = if postgres::selected() {
            Some(postgres::FreshDatabase::create().await)
        } else {
            None
        };
        let mut config = Config {
            data_dir: data_dir.path().to_path_buf(),
            database_url: database.as_ref().map(|database| database.url().to_owned()),
            ..Config::default()
        };
        configure(&mut config);
        config.validate().expect("test configuration is valid");
        let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc_addr = grpc.local_addr().unwrap();
        let metrics_addr = metrics.local_addr().unwrap();
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let clock = Arc::new(ManualClock::new(
            jiff::Timestamp::from_second(START).unwrap(),
        ));
        servscore::ops::metrics::install();
        let app = App::open(config.clone(), clock.clone())
            .await
            .expect("the app opens");
        let handle = tokio::spawn(server::serve(
            Listeners { grpc, metrics },
            app.clone(),
            async move {
                let _ = shutdown_rx.await;
            },
        ));
        Self {
            grpc_addr,
            metrics_addr,
            config,
            clock,
            app,
            shutdown: Some(shutdown_tx),
            handle: Some(handle),
            _data_dir: data_dir,
            _database: database,
        }
    }

    /// A new channel (a new HTTP/2 connection) to the server.
    pub async fn channel(&self) -> Channel {
        connect(self.grpc_addr).await
    }

    /// A ScoringService client on a new connection.
    pub async fn scoring(&self) -> pb::scoring_service_client::ScoringServiceClient<Channel> {
        pb::scoring_service_client::ScoringServiceClient::new(self.channel().await)
    }

    /// A StandardsService client on a new connection.
    pub async fn standards(&self) -> pb::standards_service_client::StandardsServiceClient<Channel> {
        pb::standards_service_client::StandardsServiceClient::new(self.channel().await)
    }

    /// A TeamsService client on a new connection.
    pub async fn teams(&self) -> pb::teams_service_client::TeamsServiceClient<Channel> {
        pb::teams_service_client::TeamsServiceClient::new(self.channel().await)
    }

    /// A PerformanceService client on a new connection.
    pub async fn performance(
        &self,
    ) -> pb::performance_service_client::PerformanceServiceClient<Channel> {
        pb::performance_service_client::PerformanceServiceClient::new(self.channel().await)
    }

    /// Starts the graceful shutdown without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    /// Whether the server task has ended.
    pub fn is_finished(&self) -> bool {
        self.handle
            .as_ref()
            .is_none_or(|handle| handle.is_finished())
    }

    /// Shuts down and waits for the server to stop (at most 30 s).
    pub async fn stop(mut self) -> Result<(), ServeError> {
        self.begin_shutdown();
        let handle = self.handle.take().expect("server running");
        tokio::time::timeout(Duration::from_secs(30), handle)
            .await
            .expect("server stops within 30 s")
            .expect("server task did not panic")
    }

    /// GET `/metrics`: the body of the Prometheus text exposition.
    pub async fn scrape_metrics(&self) -> String {
        http_get(self.metrics_addr, "/metrics").await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.begin_shutdown();
    }
}

/// A plain HTTP/1.1 GET; returns the body, panics on a non-200 status.
pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("connecting over HTTP");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "unexpected response head: {head}"
    );
    body.to_owned()
}

/// The path of a tool the tests need; panics with the install command when it is missing.
pub fn require_tool(name: &str, install: &str) -> std::path::PathBuf {
    let env_key = format!("SERVSCORE_TEST_{}", name.to_uppercase());
    if let Ok(path) = std::env::var(&env_key) {
        return path.into();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is not on PATH: {install} (or run the README test command, which installs it)")
        })
}

/// The real `servscore` binary, started as a child process on ports chosen by the kernel.
pub struct BinaryServer {
    pub child: tokio::process::Child,
    pub grpc_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    /// Log lines after the start-up line, still being read.
    pub logs: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl BinaryServer {
    /// Runs `servscore serve` with JSON logs, addresses on port 0 and `extra` arguments, and
    /// waits for its "servscore serving" line, which carries the bound addresses.
    pub async fn start(data_dir: &std::path::Path, extra: &[&str]) -> Self {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_servscore"))
            .arg("serve")
            .args([
                "--grpc-addr",
                "127.0.0.1:0",
                "--metrics-addr",
                "127.0.0.1:0",
            ])
            .args(["--log-format", "json"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting the servscore binary");
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let started = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if event["message"] == "servscore serving" {
                    return Some(event);
                }
            }
            None
        })
        .await
        .expect("the binary starts within 60 s")
        .expect("the binary logged that it is serving");
        let address = |key: &str| -> SocketAddr { started[key].as_str().unwrap().parse().unwrap() };
        let (log_tx, logs) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = log_tx.send(line);
            }
        });
        Self {
            grpc_addr: address("grpc_addr"),
            metrics_addr: address("metrics_addr"),
            child,
            logs,
        }
    }

    /// Sends a signal (e.g. "TERM", "KILL") to the process.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("process running").to_string();
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {pid}");
    }

    /// Waits (at most 30 s) for the process to exit.
    pub async fn wait(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the binary exits within 30 s")
            .unwrap()
    }
}

/// The field paths of a status's BadRequest details (empty when there are none).
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .into_iter()
                .map(|violation| violation.field)
                .collect()
        })
        .unwrap_or_default()
}

/// A timestamp `seconds` after the test servers' start.
pub fn at(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: START + seconds,
        nanos: 0,
    }
}

/// A ScoringService client.
pub type Scoring = pb::scoring_service_client::ScoringServiceClient<Channel>;
/// A PerformanceService client.
pub type Performance = pb::performance_service_client::PerformanceServiceClient<Channel>;

/// The staff member's rollup of a local date (in their current team).
pub async fn staff_rollup(
    performance: &mut Performance,
    staff: &str,
    date: &str,
) -> pb::DailyRollup {
    performance
        .get_staff_rollup(pb::GetStaffRollupRequest {
            staff_id: staff.to_owned(),
            local_date: date.to_owned(),
            team_id: String::new(),
        })
        .await
        .expect("a staff rollup")
        .into_inner()
        .rollup
        .expect("a rollup")
}

/// A team's rollup of one local date.
pub async fn team_rollup(performance: &mut Performance, team: &str, date: &str) -> pb::DailyRollup {
    performance
        .get_team_rollup(pb::GetTeamRollupRequest {
            team_id: team.to_owned(),
            local_date: date.to_owned(),
        })
        .await
        .expect("a team rollup")
        .into_inner()
        .rollup
        .expect("a rollup")
}

/// VerifyRollups over every team; panics on any mismatch.
pub async fn assert_rollups_exact(performance: &mut Performance) -> pb::VerifyRollupsResponse {
    let verified = performance
        .verify_rollups(pb::VerifyRollupsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        verified.mismatches.is_empty(),
        "rollups differ from the stored scorecards: {:?}",
        verified.mismatches
    );
    verified
}

/// A new channel (a new HTTP/2 connection) to a server at `addr`.
pub async fn connect(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap_or_else(|error| panic!("connecting to the server at {addr}: {error}"))
}

/// ScoreInteraction of `interaction`: the response, or the status.
pub async fn score(
    scoring: &mut Scoring,
    interaction: pb::Interaction,
) -> Result<pb::ScoreInteractionResponse, tonic::Status> {
    scoring
        .score_interaction(pb::ScoreInteractionRequest {
            interaction: Some(interaction),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// A resolved chat inquiry for `staff`, opened at the absolute second `opened`: the customer
/// asks, the staff member answers politely after `reply_after` seconds, thanks follow.
pub fn inquiry_at(id: &str, staff: &str, opened: i64, reply_after: i64) -> pb::Interaction {
    use pb::Speaker::{Customer, Staff};
    let stamp = |seconds: i64| prost_types::Timestamp {
        seconds: opened + seconds,
        nanos: 0,
    };
    let turn = |speaker: pb::Speaker, seconds: i64, text: &str| pb::Turn {
        speaker: speaker as i32,
        staff_id: String::new(),
        at: Some(stamp(seconds)),
        text: text.to_owned(),
    };
    pb::Interaction {
        interaction_id: id.to_owned(),
        revision: 1,
        staff_id: staff.to_owned(),
        customer_id: format!("customer-of-{id}"),
        tier: pb::Tier::Medium as i32,
        channel: pb::Channel::Chat as i32,
        kind: pb::InteractionKind::Inquiry as i32,
        opened_at: Some(stamp(0)),
        turns: vec![
            turn(Customer, 0, "您好，我的订单什么时候发货？"),
            turn(
                Staff,
                reply_after,
                "您好，感谢您的耐心等待，您的订单今天发货。",
            ),
            turn(Customer, reply_after + 30, "好的，谢谢。"),
            turn(
                Staff,
                reply_after + 40,
                "不客气，感谢您的咨询，祝您生活愉快！",
            ),
        ],
        status_changes: vec![pb::StatusChange {
            status: pb::InteractionStatus::Resolved as i32,
            at: Some(stamp(reply_after + 50)),
        }],
        ..Default::default()
    }
}
