//! `servscore bench`: a load harness that measures the service against a same-run baseline.
//!
//! It starts two servers as child processes of the current binary — the real service on a
//! fresh data directory, and a **baseline**: a minimal tonic server whose RPCs decode the same
//! requests and answer an empty response at once — then drives each with the same load (C
//! connections × M requests in flight, for a fixed duration, requests generated the same way)
//! and prints every figure as a ratio to the baseline's. Absolute figures on a shared 2-core
//! machine are noise; ratios from one run are not.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Request, Response, Status};

use crate::corpus::{Corpus, CorpusOptions};
use crate::proto::v1 as pb;
use crate::proto::v1::performance_service_client::PerformanceServiceClient;
use crate::proto::v1::performance_service_server::{PerformanceService, PerformanceServiceServer};
use crate::proto::v1::scoring_service_client::ScoringServiceClient;
use crate::proto::v1::scoring_service_server::{ScoringService, ScoringServiceServer};

/// What one run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// ScoreInteraction of distinct corpus interactions: durable score-and-store.
    Ingest,
    /// PreviewScore of corpus interactions: scoring without storage.
    Preview,
    /// GetStaffRollup of corpus staff members for corpus days.
    Rollup,
}

/// Settings of a bench run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Scenarios, in order (rollup reads what ingest stored).
    pub scenarios: Vec<Scenario>,
    /// HTTP/2 connections.
    pub connections: usize,
    /// Requests in flight per connection.
    pub in_flight: usize,
    /// Measured time per scenario and server.
    pub duration: Duration,
    /// Unmeasured warm-up before each measurement.
    pub warm_up: Duration,
    /// Interactions stored before measuring (0 = an empty store).
    pub preload: u64,
    /// Corpus seed.
    pub seed: u64,
    /// Offered requests per second (open loop); `None` drives the slots flat out.
    pub rate: Option<f64>,
    /// The service's database (an empty one); `None`: SQLite in a fresh temporary directory.
    pub database_url: Option<String>,
}

/// The baseline: decodes each request and answers an empty response.
#[derive(Default)]
struct Baseline;

#[tonic::async_trait]
impl ScoringService for Baseline {
    async fn score_interaction(
        &self,
        _request: Request<pb::ScoreInteractionRequest>,
    ) -> Result<Response<pb::ScoreInteractionResponse>, Status> {
        Ok(Response::new(pb::ScoreInteractionResponse::default()))
    }

    async fn preview_score(
        &self,
        _request: Request<pb::PreviewScoreRequest>,
    ) -> Result<Response<pb::PreviewScoreResponse>, Status> {
        Ok(Response::new(pb::PreviewScoreResponse::default()))
    }
}

#[tonic::async_trait]
impl PerformanceService for Baseline {
    async fn get_staff_rollup(
        &self,
        _request: Request<pb::GetStaffRollupRequest>,
    ) -> Result<Response<pb::GetStaffRollupResponse>, Status> {
        Ok(Response::new(pb::GetStaffRollupResponse::default()))
    }
}

/// Runs the baseline server until the process is killed.
pub async fn serve_baseline(addr: SocketAddr) -> Result<(), tonic::transport::Error> {
    Server::builder()
        .add_service(ScoringServiceServer::new(Baseline))
        .add_service(PerformanceServiceServer::new(Baseline))
        .serve(addr)
        .await
}

/// Figures of one measurement.
#[derive(Debug, Clone, Default)]
struct Figures {
    requests: u64,
    seconds: f64,
    /// Latencies in microseconds, sorted.
    latencies: Vec<u32>,
    errors: BTreeMap<String, u64>,
    cpu_seconds: f64,
    peak_rss_kib: u64,
}

impl Figures {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn percentile_ms(&self, fraction: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((self.latencies.len() as f64 * fraction).ceil() as usize)
            .clamp(1, self.latencies.len());
        f64::from(self.latencies[rank - 1]) / 1_000.0
    }

    fn cpu_ms_per_request(&self) -> f64 {
        self.cpu_seconds * 1_000.0 / self.requests.max(1) as f64
    }
}

/// A server child process.
struct Child {
    process: std::process::Child,
    addr: SocketAddr,
}

impl Child {
    fn start(binary: &Path, args: &[String], addr: SocketAddr) -> std::io::Result<Self> {
        let process = std::process::Command::new(binary)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        Ok(Self { process, addr })
    }

    /// (user + system CPU seconds, peak RSS in KiB) from /proc.
    fn usage(&self) -> (f64, u64) {
        let pid = self.process.id();
        let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                // Fields after the parenthesised command name; utime and stime are 14 and 15.
                let rest = stat.rsplit_once(')')?.1;
                let fields: Vec<&str> = rest.split_whitespace().collect();
                let ticks: u64 =
                    fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
                Some(ticks as f64 / 100.0)
            })
            .unwrap_or(f64::NAN);
        let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|line| line.starts_with("VmHWM:"))?
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()
            })
            .unwrap_or(0);
        (cpu, rss)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn free_addr() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

async fn connect(addr: SocketAddr) -> Result<Channel, String> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|error| error.to_string())?
        .tcp_nodelay(true);
    for _ in 0..100 {
        if let Ok(channel) = endpoint.connect().await {
            return Ok(channel);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("cannot connect to {addr}"))
}

/// Request `index` of a scenario.
enum Call {
    Ingest(Box<pb::ScoreInteractionRequest>),
    Preview(Box<pb::PreviewScoreRequest>),
    Rollup(pb::GetStaffRollupRequest),
}

fn request(corpus: &Corpus, scenario: Scenario, index: u64, offset: u64) -> Call {
    match scenario {
        Scenario::Ingest => Call::Ingest(Box::new(pb::ScoreInteractionRequest {
            interaction: Some(corpus.interaction(offset + index)),
        })),
        Scenario::Preview => Call::Preview(Box::new(pb::PreviewScoreRequest {
            interaction: Some(corpus.interaction(index)),
            ..Default::default()
        })),
        Scenario::Rollup => {
            let options = corpus.options();
            let day = (index % options.days.max(1) as u64) as i64;
            let date = (options.now - jiff::SignedDuration::from_hours(24 * day))
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date();
            Call::Rollup(pb::GetStaffRollupRequest {
                staff_id: format!("staff-{}", index % options.staff as u64),
                local_date: date.to_string(),
                team_id: String::new(),
            })
        }
    }
}

async fn call(channel: &Channel, call: Call) -> Result<(), Status> {
    match call {
        Call::Ingest(request) => ScoringServiceClient::new(channel.clone())
            .score_interaction(*request)
            .await
            .map(drop),
        Call::Preview(request) => ScoringServiceClient::new(channel.clone())
            .preview_score(*request)
            .await
            .map(drop),
        Call::Rollup(request) => PerformanceServiceClient::new(channel.clone())
            .get_staff_rollup(request)
            .await
            .map(drop),
    }
}

/// Drives `addr` for warm-up + duration; `next` numbers requests across runs so ingest never
/// repeats an interaction on the same server.
async fn drive(
    child: &Child,
    corpus: Arc<Corpus>,
    scenario: Scenario,
    options: &BenchOptions,
    next: Arc<AtomicU64>,
    offset: u64,
) -> Result<Figures, String> {
    let mut channels = Vec::new();
    for _ in 0..options.connections {
        channels.push(connect(child.addr).await?);
    }
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    // Open loop: request k of the run is due at `begin + k / rate`, whichever slot sends it.
    let schedule = options.rate.map(|rate| {
        (
            tokio::time::Instant::now(),
            rate,
            Arc::new(AtomicU64::new(0)),
        )
    });
    let mut tasks = Vec::new();
    for channel in &channels {
        for _ in 0..options.in_flight {
            let (channel, corpus, next) = (channel.clone(), corpus.clone(), next.clone());
            let (measuring, stop) = (measuring.clone(), stop.clone());
            let schedule = schedule.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors: BTreeMap<String, u64> = BTreeMap::new();
                while !stop.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let request = request(&corpus, scenario, index, offset);
                    let started = match &schedule {
                        Some((begin, rate, tickets)) => {
                            let ticket = tickets.fetch_add(1, Ordering::Relaxed);
                            let due = *begin + Duration::from_secs_f64(ticket as f64 / rate);
                            tokio::time::sleep_until(due).await;
                            due.into_std()
                        }
                        None => Instant::now(),
                    };
                    let result = call(&channel, request).await;
                    if measuring.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                        match result {
                            Ok(()) => latencies
                                .push(started.elapsed().as_micros().min(u32::MAX as u128) as u32),
                            Err(status) => {
                                *errors.entry(format!("{:?}", status.code())).or_default() += 1;
                            }
                        }
                    }
                }
                (latencies, errors)
            }));
        }
    }
    tokio::time::sleep(options.warm_up).await;
    let (cpu_before, _) = child.usage();
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(options.duration).await;
    stop.store(true, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    let (cpu_after, peak_rss_kib) = child.usage();
    let mut figures = Figures {
        seconds,
        cpu_seconds: cpu_after - cpu_before,
        peak_rss_kib,
        ..Figures::default()
    };
    for task in tasks {
        let (latencies, errors) = task.await.map_err(|error| error.to_string())?;
        figures.latencies.extend(latencies);
        for (code, count) in errors {
            *figures.errors.entry(code).or_default() += count;
        }
    }
    figures.requests = figures.latencies.len() as u64;
    figures.latencies.sort_unstable();
    Ok(figures)
}

/// Stores `count` corpus interactions through `addr`, 64 at a time.
async fn preload(child: &Child, corpus: Arc<Corpus>, count: u64) -> Result<(), String> {
    let channel = connect(child.addr).await?;
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (channel, corpus, next) = (channel.clone(), corpus.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return Ok::<(), String>(());
                }
                call(&channel, request(&corpus, Scenario::Ingest, index, 0))
                    .await
                    .map_err(|status| format!("preload failed: {status}"))?;
            }
        }));
    }
    for task in tasks {
        task.await.map_err(|error| error.to_string())??;
    }
    Ok(())
}

/// Pause after a preload of this long, once the file system has been synced.
const SETTLE: Duration = Duration::from_secs(10);

/// Lets the machine settle after a preload: `sync` waits until the kernel has written back
/// the files the preload dirtied, and the pause lets what was queued behind it drain, so the
/// measurement sees the full store and not the bulk load's aftermath.
async fn settle() -> Result<(), String> {
    let status = tokio::task::spawn_blocking(|| std::process::Command::new("sync").status())
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| format!("cannot run sync: {error}"))?;
    if !status.success() {
        return Err(format!("sync failed: {status}"));
    }
    tokio::time::sleep(SETTLE).await;
    Ok(())
}

fn line(name: &str, figures: &Figures) -> String {
    let errors = if figures.errors.is_empty() {
        "none".to_owned()
    } else {
        figures
            .errors
            .iter()
            .map(|(code, count)| format!("{code}={count}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "{name:<10} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>10.3} {:>8.1} errors={errors}",
        figures.rps(),
        figures.percentile_ms(0.5),
        figures.percentile_ms(0.99),
        figures.percentile_ms(0.999),
        figures.cpu_ms_per_request(),
        figures.peak_rss_kib as f64 / 1_024.0,
    )
}

/// Runs the bench and prints the report; returns it too.
pub async fn run(binary: PathBuf, options: BenchOptions) -> Result<String, String> {
    let data_dir = DataDir::fresh(
        std::env::temp_dir().join(format!("servscore-bench-{}", std::process::id())),
    );
    let now = Timestamp::now() - jiff::SignedDuration::from_mins(10);
    let corpus = Arc::new(Corpus::new(CorpusOptions {
        seed: options.seed,
        now,
        ..CorpusOptions::default()
    }));
    let service_addr = free_addr().map_err(|error| error.to_string())?;
    let metrics_addr = free_addr().map_err(|error| error.to_string())?;
    let baseline_addr = free_addr().map_err(|error| error.to_string())?;
    let mut service_args = vec![
        "serve".to_owned(),
        "--grpc-addr".to_owned(),
        service_addr.to_string(),
        "--metrics-addr".to_owned(),
        metrics_addr.to_string(),
        "--data-dir".to_owned(),
        data_dir.0.display().to_string(),
        "--log-filter".to_owned(),
        "warn".to_owned(),
    ];
    if let Some(url) = &options.database_url {
        service_args.extend(["--database-url".to_owned(), url.clone()]);
    }
    let service = Child::start(&binary, &service_args, service_addr)
        .map_err(|error| format!("cannot start the service: {error}"))?;
    let baseline = Child::start(
        &binary,
        &[
            "bench-baseline".to_owned(),
            "--grpc-addr".to_owned(),
            baseline_addr.to_string(),
        ],
        baseline_addr,
    )
    .map_err(|error| format!("cannot start the baseline: {error}"))?;

    let mut report = format!(
        "servscore bench: {} connections x {} in flight, {:?} per run after {:?} warm-up, {} cores\n",
        options.connections,
        options.in_flight,
        options.duration,
        options.warm_up,
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    if let Some(rate) = options.rate {
        report.push_str(&format!(
            "offered load: {rate} requests/s, open loop (latency from each request's scheduled start)\n"
        ));
    }
    if options.preload > 0 {
        let started = Instant::now();
        preload(&service, corpus.clone(), options.preload).await?;
        let loaded = started.elapsed();
        settle().await?;
        report.push_str(&format!(
            "preloaded {} interactions in {:.1} s, then settled for {:.1} s\n",
            options.preload,
            loaded.as_secs_f64(),
            (started.elapsed() - loaded).as_secs_f64()
        ));
    }
    report.push_str("run            req/s   p50 ms   p99 ms p99.9 ms cpu ms/req  rss MiB\n");
    let service_next = Arc::new(AtomicU64::new(0));
    for scenario in &options.scenarios {
        let base = drive(
            &baseline,
            corpus.clone(),
            *scenario,
            &options,
            Arc::new(AtomicU64::new(0)),
            options.preload,
        )
        .await?;
        let figures = drive(
            &service,
            corpus.clone(),
            *scenario,
            &options,
            service_next.clone(),
            options.preload,
        )
        .await?;
        let name = format!("{scenario:?}").to_lowercase();
        report.push_str(&line("baseline", &base));
        report.push('\n');
        report.push_str(&line(&name, &figures));
        report.push('\n');
        report.push_str(&format!(
            "{name}/baseline: throughput {:.2}x, p50 {:.2}x, p99 {:.2}x, cpu per request {:.2}x\n",
            figures.rps() / base.rps(),
            figures.percentile_ms(0.5) / base.percentile_ms(0.5),
            figures.percentile_ms(0.99) / base.percentile_ms(0.99),
            figures.cpu_ms_per_request() / base.cpu_ms_per_request(),
        ));
    }
    Ok(report)
}

/// The service's data directory, removed when the bench ends — also when it is stopped
/// early (the future dropped), after the service, which is declared later and so stopped
/// first.
struct DataDir(PathBuf);

impl DataDir {
    fn fresh(path: PathBuf) -> Self {
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
