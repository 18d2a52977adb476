//! Structured logs with `tracing`, as text or JSON, to standard error. Transcripts and
//! customer text are never logged: handlers log ids, counts and codes only.

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Installs the global subscriber. `RUST_LOG`, when set, overrides `log_filter`. The
/// PostgreSQL driver is held at `info` whatever the filter says: at `debug` it logs every
/// statement with its parameters, which are transcripts and customer ids.
pub fn init(config: &Config) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log_filter));
    let filter = filter.add_directive("tokio_postgres=info".parse().expect("a valid directive"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    if let Err(error) = result {
        eprintln!("servscore: logging not initialised: {error}");
    }
}
