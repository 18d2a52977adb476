//! The `servscore` binary: parses flags and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use servscore::config::{Config, LogFormat};
use servscore::ops::auth::{self, Scope};
use servscore::ops::{guard, logging, shutdown};
use servscore::server::{self, Listeners};

/// Scores customer-service interactions and keeps OEC daily rollups, over gRPC.
#[derive(Parser)]
#[command(name = "servscore", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the service (embedded SQLite by default; no configuration needed).
    Serve(ServeArgs),
    /// Prints the effective configuration (defaults, file, environment, flags) as TOML.
    Config(ServeArgs),
    /// Scores one interaction offline and prints the scorecard as proto3 JSON (nothing is
    /// stored; for calibrating a standard).
    Score(ScoreArgs),
    /// Load-tests the service against a same-run baseline (a no-op tonic server) and prints
    /// requests/s, latency percentiles, CPU per request and peak RSS as ratios to it.
    Bench(BenchArgs),
    /// Makes a new bearer token: prints it once, and the `[[token]]` entry (its SHA-256 hash,
    /// never the token) to add to the token file.
    Token {
        /// A name for the token's holder (shown in logs and errors, never the token).
        #[arg(long)]
        name: String,
        /// Scopes of the token (repeat the flag or separate by commas).
        #[arg(long = "scope", value_enum, value_delimiter = ',', required = true)]
        scopes: Vec<Scope>,
    },
    /// The baseline server of `bench` (internal).
    #[command(hide = true)]
    BenchBaseline {
        /// Listen address.
        #[arg(long)]
        grpc_addr: std::net::SocketAddr,
    },
}

/// Settings of `bench`.
#[derive(Args)]
struct BenchArgs {
    /// Scenarios to run, in order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "ingest,preview,rollup"
    )]
    scenarios: Vec<servscore::loadbench::Scenario>,
    /// HTTP/2 connections.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 16)]
    in_flight: usize,
    /// Measured seconds per scenario and server.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Unmeasured warm-up seconds before each measurement.
    #[arg(long, default_value_t = 2)]
    warm_up: u64,
    /// Interactions stored before measuring.
    #[arg(long, default_value_t = 0)]
    preload: u64,
    /// Offered load in requests per second, spread over the in-flight slots (open loop:
    /// latency counts from each request's scheduled start, so falling behind shows). Unset:
    /// as fast as the in-flight slots allow (peak throughput).
    #[arg(long)]
    rate: Option<f64>,
    /// Corpus seed.
    #[arg(long, default_value_t = 20_261_122)]
    seed: u64,
    /// The service's database, e.g. an empty postgres://… database [default: SQLite in a
    /// fresh temporary directory].
    #[arg(long)]
    database_url: Option<String>,
}

/// Settings of `score`.
#[derive(Args)]
struct ScoreArgs {
    /// The interaction: proto3 JSON of servscore.v1.Interaction (or of a ScoreInteractionRequest).
    #[arg(long)]
    interaction: PathBuf,
    /// The standard: TOML or proto3 JSON of servscore.v1.Standard [default: the built-in standard].
    #[arg(long)]
    standard: Option<PathBuf>,
    /// A team (TOML or proto3 JSON of servscore.v1.Team) for its time zone and business hours
    /// [default: UTC, wall-clock time].
    #[arg(long)]
    team: Option<PathBuf>,
    /// Evaluation time, RFC 3339 (e.g. 2026-11-23T18:00:00Z) [default: now].
    #[arg(long)]
    at: Option<jiff::Timestamp>,
}

/// Settings of `serve`. Each flag overrides the file and the environment.
#[derive(Args, Serialize)]
struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "SERVSCORE_CONFIG")]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// gRPC listen address [default: 127.0.0.1:50051].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    grpc_addr: Option<String>,
    /// Prometheus /metrics listen address [default: 127.0.0.1:9464].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_addr: Option<String>,
    /// Data directory of the embedded SQLite database [default: servscore-data].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://... [default: sqlite://<data-dir>/servscore.db].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    /// Time in-flight calls get to finish on shutdown, e.g. 30s [default: 30s].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    shutdown_grace_period: Option<String>,
    /// Log format [default: text].
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    log_format: Option<LogFormat>,
    /// Log filter, e.g. info or servscore=debug [default: info].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    log_filter: Option<String>,
}

fn load(args: &ServeArgs) -> Result<Config, ExitCode> {
    Config::load(args.config.as_deref(), args).map_err(|error| {
        eprintln!("servscore: {error}");
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let config = match load(&args) {
                Ok(config) => config,
                Err(code) => return code,
            };
            serve(config)
        }
        Command::Score(args) => match servscore::offline::score_files(
            &args.interaction,
            args.standard.as_deref(),
            args.team.as_deref(),
            args.at,
        ) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("servscore: {message}");
                ExitCode::from(2)
            }
        },
        Command::Bench(args) => bench(args),
        Command::Token { name, scopes } => token(&name, &scopes),
        Command::BenchBaseline { grpc_addr } => {
            let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
            match runtime.block_on(servscore::loadbench::serve_baseline(grpc_addr)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("servscore: baseline server failed: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Config(args) => match load(&args) {
            Ok(config) => {
                print!(
                    "{}",
                    toml::to_string_pretty(&config).expect("configuration serialises")
                );
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
    }
}

fn bench(args: BenchArgs) -> ExitCode {
    let binary = match std::env::current_exe() {
        Ok(binary) => binary,
        Err(error) => {
            eprintln!("servscore: cannot find this executable: {error}");
            return ExitCode::FAILURE;
        }
    };
    let options = servscore::loadbench::BenchOptions {
        scenarios: args.scenarios,
        connections: args.connections.max(1),
        in_flight: args.in_flight.max(1),
        duration: std::time::Duration::from_secs(args.seconds.max(1)),
        warm_up: std::time::Duration::from_secs(args.warm_up),
        preload: args.preload,
        seed: args.seed,
        rate: args.rate.filter(|rate| rate.is_finite() && *rate > 0.0),
        database_url: args.database_url,
    };
    // The load generator gets one thread per core, like an independent client would.
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    // Stopped by a signal, the bench's future is dropped: that stops the service and the
    // baseline it started and removes the service's data directory.
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = servscore::loadbench::run(binary, options) => outcome,
            () = shutdown::signal() => Err("interrupted".to_owned()),
        }
    });
    match outcome {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("servscore: bench failed: {message}");
            ExitCode::FAILURE
        }
    }
}

fn token(name: &str, scopes: &[Scope]) -> ExitCode {
    let token = match auth::new_token() {
        Ok(token) => token,
        Err(error) => {
            eprintln!("servscore: no randomness from the operating system: {error}");
            return ExitCode::FAILURE;
        }
    };
    let scopes: Vec<String> = scopes
        .iter()
        .map(|scope| format!("{:?}", scope.name()))
        .collect();
    eprintln!("The token (shown once; give it to {name:?} and keep it secret):");
    eprintln!("{token}");
    eprintln!("Add to the token file (auth.token_file):");
    println!(
        "[[token]]\nname = {name:?}\nsha256 = \"{}\"\nscopes = [{}]",
        auth::sha256_hex(&token),
        scopes.join(", ")
    );
    ExitCode::SUCCESS
}

fn serve(config: Config) -> ExitCode {
    logging::init(&config);
    guard::install_panic_hook();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("servscore: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let listeners = Listeners::bind(&config).await?;
        server::run(listeners, config, shutdown::signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "servscore failed");
            eprintln!("servscore: {error}");
            ExitCode::FAILURE
        }
    }
}
