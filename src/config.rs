//! Layered configuration: built-in defaults, then an optional TOML file (`--config`), then
//! `SERVSCORE_*` environment variables (nested keys with `__`), then command-line flags; one
//! [`Config::validate`] at the end names every problem at once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

/// Prefix of the environment variables that configure the service.
pub const ENV_PREFIX: &str = "SERVSCORE_";

/// The whole configuration of `servscore serve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the gRPC server.
    pub grpc_addr: SocketAddr,
    /// Address of the Prometheus `/metrics` HTTP server.
    pub metrics_addr: SocketAddr,
    /// Directory for the embedded SQLite database (created if missing).
    pub data_dir: PathBuf,
    /// Storage location: `sqlite://PATH` or `postgres://...`. Unset means
    /// `sqlite://<data_dir>/servscore.db`.
    pub database_url: Option<String>,
    /// How long in-flight calls may take to finish after SIGTERM/SIGINT before the process
    /// exits anyway.
    #[serde(with = "friendly_duration")]
    pub shutdown_grace_period: SignedDuration,
    /// Log output: `text` or `json`.
    pub log_format: LogFormat,
    /// Log filter in `tracing_subscriber::EnvFilter` syntax, e.g. `info` or
    /// `servscore=debug,info`. `RUST_LOG` takes precedence when set.
    pub log_filter: String,
    /// Bounds on what a request may carry.
    pub limits: Limits,
    /// IANA time zone of the default team (staff in no team) until the team is updated.
    pub default_time_zone: String,
    /// How often the service looks for work that fell due (re-scoring, day close).
    #[serde(with = "friendly_duration")]
    pub scheduler_interval: SignedDuration,
    /// Whether the service closes each team's day by itself once the local day has ended
    /// and `day_close_grace` has passed.
    pub auto_close: bool,
    /// How long after the end of a team's local day it is closed automatically.
    #[serde(with = "friendly_duration")]
    pub day_close_grace: SignedDuration,
    /// Transport security (plaintext when no certificate is set).
    pub tls: TlsConfig,
    /// Who may call (every caller when no token file is set).
    pub auth: AuthConfig,
    /// What is kept of customer text, and for how long.
    pub privacy: PrivacyConfig,
    /// The connection pool of a `postgres://` database.
    pub postgres: PostgresConfig,
}

/// The PostgreSQL connection pool (used when `database_url` is `postgres://…`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PostgresConfig {
    /// Pooled connections of this replica (one more listens for notifications). Several
    /// replicas together must stay under the server's `max_connections`.
    pub max_connections: usize,
    /// How long connecting, or waiting for a free pooled connection, may take.
    #[serde(with = "friendly_duration")]
    pub connect_timeout: SignedDuration,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            max_connections: 16,
            connect_timeout: SignedDuration::from_secs(5),
        }
    }
}

/// TLS with rustls. Plaintext (no `cert_file`) is the default, meant for loopback
/// development; set a certificate for anything else.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain of the server.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the server.
    pub key_file: Option<PathBuf>,
    /// PEM certificates of the CAs that sign client certificates; when set, every client
    /// must present a certificate signed by one of them (mutual TLS).
    pub client_ca_file: Option<PathBuf>,
}

/// Bearer-token authentication with scopes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// TOML file of `[[token]]` entries (name, sha256 of the token, scopes); only hashes are
    /// stored. Unset: no authentication (loopback development).
    pub token_file: Option<PathBuf>,
}

/// Data minimisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// Keep the transcript text of interactions after scoring. When false, only the
    /// scorecard (with bounded evidence snippets) and the interaction's structure are kept.
    pub keep_transcripts: bool,
    /// Interaction bodies older than this (by `opened_at`) are purged; scorecards and rollups
    /// stay. `0s` keeps them forever.
    #[serde(with = "friendly_duration")]
    pub retention: SignedDuration,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            keep_transcripts: true,
            retention: SignedDuration::ZERO,
        }
    }
}

/// Bounds on what a request may carry; each rejection names the limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Turns per interaction.
    pub max_turns: usize,
    /// Characters per turn text (and per description or summary).
    pub max_turn_chars: usize,
    /// Commitments per interaction.
    pub max_commitments: usize,
    /// Status changes per interaction.
    pub max_status_changes: usize,
    /// How far in the future a client's timestamp may be (clock skew allowance).
    #[serde(with = "friendly_duration")]
    pub future_skew: SignedDuration,
    /// Largest request or response message, in bytes (decoded and encoded).
    pub max_message_bytes: usize,
    /// Largest header list (metadata) of a request, in bytes.
    pub max_metadata_bytes: u32,
    /// Deadline of a call whose client sends none (and the longest a unary call may run).
    #[serde(with = "friendly_duration")]
    pub default_deadline: SignedDuration,
    /// Calls handled at once; beyond it a call fails at once with RESOURCE_EXHAUSTED.
    pub max_concurrent_requests: usize,
    /// Interval of HTTP/2 keepalive pings to idle connections.
    #[serde(with = "friendly_duration")]
    pub keepalive_interval: SignedDuration,
    /// How long a keepalive ping may go unanswered before the connection is closed.
    #[serde(with = "friendly_duration")]
    pub keepalive_timeout: SignedDuration,
}

impl Limits {
    /// No bounds but validity: for re-reading interactions stored under earlier limits.
    pub fn stored() -> Self {
        Self {
            max_turns: usize::MAX,
            max_turn_chars: usize::MAX,
            max_commitments: usize::MAX,
            max_status_changes: usize::MAX,
            future_skew: SignedDuration::ZERO,
            ..Self::default()
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_turns: 2_000,
            max_turn_chars: 20_000,
            max_commitments: 200,
            max_status_changes: 500,
            future_skew: SignedDuration::from_mins(5),
            max_message_bytes: 4 * 1024 * 1024,
            max_metadata_bytes: 16 * 1024,
            default_deadline: SignedDuration::from_secs(30),
            max_concurrent_requests: 1_024,
            keepalive_interval: SignedDuration::from_secs(30),
            keepalive_timeout: SignedDuration::from_secs(10),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            metrics_addr: SocketAddr::from(([127, 0, 0, 1], 9464)),
            data_dir: PathBuf::from("servscore-data"),
            database_url: None,
            shutdown_grace_period: SignedDuration::from_secs(30),
            log_format: LogFormat::Text,
            log_filter: "info".to_owned(),
            limits: Limits::default(),
            default_time_zone: "UTC".to_owned(),
            scheduler_interval: SignedDuration::from_secs(1),
            auto_close: true,
            day_close_grace: SignedDuration::from_hours(2),
            tls: TlsConfig::default(),
            auth: AuthConfig::default(),
            privacy: PrivacyConfig::default(),
            postgres: PostgresConfig::default(),
        }
    }
}

/// A configuration that could not be loaded or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file, environment or flags could not be parsed into a configuration.
    #[error("cannot load configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    /// Loaded, but some values are invalid; each problem is one entry.
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

impl Config {
    /// Loads defaults, then `file` (if any), then the environment, then `overrides` (the
    /// flags, serialised with unset flags omitted), and validates the result.
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError::Invalid(vec![format!(
                    "config file {} does not exist",
                    file.display()
                )]));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        let config: Config = figment
            .merge(Env::prefixed(ENV_PREFIX).split("__").ignore(&["config"]))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value and reports all problems together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.grpc_addr == self.metrics_addr && self.grpc_addr.port() != 0 {
            problems.push(format!(
                "grpc_addr and metrics_addr are both {}; they need different ports",
                self.grpc_addr
            ));
        }
        if self.shutdown_grace_period.is_negative()
            || self.shutdown_grace_period > SignedDuration::from_hours(1)
        {
            problems.push(format!(
                "shutdown_grace_period must be between 0s and 1h, got {:#}",
                self.shutdown_grace_period
            ));
        }
        if let Err(problem) = DatabaseLocation::parse(self) {
            problems.push(problem);
        }
        let limits = &self.limits;
        for (name, value, max) in [
            ("limits.max_turns", limits.max_turns, 100_000),
            ("limits.max_turn_chars", limits.max_turn_chars, 10_000_000),
            ("limits.max_commitments", limits.max_commitments, 10_000),
            (
                "limits.max_status_changes",
                limits.max_status_changes,
                100_000,
            ),
        ] {
            if value == 0 || value > max {
                problems.push(format!("{name} must be between 1 and {max}, got {value}"));
            }
        }
        if limits.future_skew.is_negative() || limits.future_skew > SignedDuration::from_hours(24) {
            problems.push(format!(
                "limits.future_skew must be between 0s and 24h, got {:#}",
                limits.future_skew
            ));
        }
        for (name, value, min, max) in [
            (
                "limits.max_message_bytes",
                limits.max_message_bytes,
                1_024,
                256 * 1024 * 1024,
            ),
            (
                "limits.max_metadata_bytes",
                limits.max_metadata_bytes as usize,
                1_024,
                1024 * 1024,
            ),
            (
                "limits.max_concurrent_requests",
                limits.max_concurrent_requests,
                1,
                1_000_000,
            ),
        ] {
            if !(min..=max).contains(&value) {
                problems.push(format!(
                    "{name} must be between {min} and {max}, got {value}"
                ));
            }
        }
        for (name, value, min, max) in [
            (
                "limits.default_deadline",
                limits.default_deadline,
                SignedDuration::from_millis(1),
                SignedDuration::from_hours(1),
            ),
            (
                "limits.keepalive_interval",
                limits.keepalive_interval,
                SignedDuration::from_secs(1),
                SignedDuration::from_hours(2),
            ),
            (
                "limits.keepalive_timeout",
                limits.keepalive_timeout,
                SignedDuration::from_secs(1),
                SignedDuration::from_mins(10),
            ),
        ] {
            if value < min || value > max {
                problems.push(format!(
                    "{name} must be between {min:#} and {max:#}, got {value:#}"
                ));
            }
        }
        match (&self.tls.cert_file, &self.tls.key_file) {
            (Some(_), None) | (None, Some(_)) => {
                problems.push("tls.cert_file and tls.key_file must be set together".to_owned())
            }
            (None, None) if self.tls.client_ca_file.is_some() => problems.push(
                "tls.client_ca_file (mutual TLS) needs tls.cert_file and tls.key_file".to_owned(),
            ),
            _ => {}
        }
        for (name, file) in [
            ("tls.cert_file", &self.tls.cert_file),
            ("tls.key_file", &self.tls.key_file),
            ("tls.client_ca_file", &self.tls.client_ca_file),
            ("auth.token_file", &self.auth.token_file),
        ] {
            if let Some(file) = file.as_ref().filter(|file| !file.is_file()) {
                problems.push(format!("{name} {} is not a readable file", file.display()));
            }
        }
        if self.privacy.retention.is_negative() {
            problems.push(format!(
                "privacy.retention must be 0s (keep forever) or positive, got {:#}",
                self.privacy.retention
            ));
        }
        if jiff::tz::TimeZone::get(&self.default_time_zone).is_err() {
            problems.push(format!(
                "default_time_zone {:?} is not an IANA time zone",
                self.default_time_zone
            ));
        }
        if self.day_close_grace.is_negative()
            || self.day_close_grace > SignedDuration::from_hours(24 * 7)
        {
            problems.push(format!(
                "day_close_grace must be between 0s and 7 days, got {:#}",
                self.day_close_grace
            ));
        }
        if self.scheduler_interval < SignedDuration::from_millis(10)
            || self.scheduler_interval > SignedDuration::from_mins(10)
        {
            problems.push(format!(
                "scheduler_interval must be between 10ms and 10m, got {:#}",
                self.scheduler_interval
            ));
        }
        if !(2..=1_000).contains(&self.postgres.max_connections) {
            problems.push(format!(
                "postgres.max_connections must be between 2 and 1000, got {}",
                self.postgres.max_connections
            ));
        }
        if self.postgres.connect_timeout < SignedDuration::from_millis(100)
            || self.postgres.connect_timeout > SignedDuration::from_mins(10)
        {
            problems.push(format!(
                "postgres.connect_timeout must be between 100ms and 10m, got {:#}",
                self.postgres.connect_timeout
            ));
        }
        if let Err(error) = tracing_subscriber::EnvFilter::try_new(&self.log_filter) {
            problems.push(format!(
                "log_filter {:?} is invalid: {error}",
                self.log_filter
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// Where the data lives, from `database_url` or the data directory.
    pub fn database(&self) -> DatabaseLocation {
        DatabaseLocation::parse(self).expect("validated configuration")
    }
}

/// Where the service keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// An SQLite database file (embedded default).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl DatabaseLocation {
    fn parse(config: &Config) -> Result<Self, String> {
        let Some(url) = config.database_url.as_deref() else {
            return Ok(Self::Sqlite(config.data_dir.join("servscore.db")));
        };
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("database_url sqlite:// needs a file path".to_owned());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return match url.parse::<tokio_postgres::Config>() {
                Ok(_) => Ok(Self::Postgres(url.to_owned())),
                Err(error) => Err(format!(
                    "database_url is not a valid PostgreSQL URL: {error}"
                )),
            };
        }
        Err("database_url must start with sqlite:// or postgres://".to_owned())
    }
}

/// Serde for durations in the friendly format ("30s", "5m", "1h 30m"); ISO 8601 is accepted
/// on input too.
mod friendly_duration {
    use jiff::SignedDuration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &SignedDuration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{value:#}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<SignedDuration, D::Error> {
        SignedDuration::deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Default)]
    struct NoFlags {}

    #[test]
    fn defaults_are_valid_and_use_sqlite_in_the_data_dir() {
        let config = Config::default();
        config.validate().unwrap();
        assert_eq!(
            config.database(),
            DatabaseLocation::Sqlite(PathBuf::from("servscore-data/servscore.db"))
        );
    }

    #[test]
    fn file_then_flags_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("servscore.toml");
        std::fs::write(
            &file,
            "grpc_addr = \"127.0.0.1:6000\"\nshutdown_grace_period = \"5s\"\n",
        )
        .unwrap();
        #[derive(Serialize)]
        struct Flags {
            grpc_addr: &'static str,
        }
        let config = Config::load(
            Some(&file),
            Flags {
                grpc_addr: "127.0.0.1:7000",
            },
        )
        .unwrap();
        assert_eq!(config.grpc_addr.port(), 7000);
        assert_eq!(config.shutdown_grace_period, SignedDuration::from_secs(5));
    }

    #[test]
    fn every_problem_is_reported() {
        let config = Config {
            metrics_addr: Config::default().grpc_addr,
            shutdown_grace_period: SignedDuration::from_hours(2),
            database_url: Some("mysql://x".to_owned()),
            ..Config::default()
        };
        let message = config.validate().unwrap_err().to_string();
        assert!(message.contains("different ports"), "{message}");
        assert!(message.contains("shutdown_grace_period"), "{message}");
        assert!(message.contains("database_url"), "{message}");
    }

    #[test]
    fn a_postgres_url_is_checked_at_start() {
        let valid = Config {
            database_url: Some("postgres://servscore@db.internal:5432/servscore".to_owned()),
            ..Config::default()
        };
        assert_eq!(
            valid.database(),
            DatabaseLocation::Postgres(
                "postgres://servscore@db.internal:5432/servscore".to_owned()
            )
        );
        let invalid = Config {
            database_url: Some("postgres://db.internal:notaport/servscore".to_owned()),
            ..Config::default()
        };
        let message = invalid.validate().unwrap_err().to_string();
        assert!(message.contains("not a valid PostgreSQL URL"), "{message}");
    }

    #[test]
    fn unknown_keys_in_a_file_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("servscore.toml");
        std::fs::write(&file, "grpc_adr = \"127.0.0.1:6000\"\n").unwrap();
        let message = Config::load(Some(&file), NoFlags::default())
            .unwrap_err()
            .to_string();
        assert!(message.contains("grpc_adr"), "{message}");
    }
}
