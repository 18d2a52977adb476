//! The embedded SQLite backend: one file in WAL mode with `synchronous=FULL` (an acknowledged
//! write survives `kill -9` and power loss), numbered migrations checked against
//! `PRAGMA user_version` at start, a group-commit writer thread and a pool of read-only
//! connections.

mod error;
mod ingest;
mod privacy;
mod queries;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use self::writer::Writer;
use crate::storage::StoreError;

pub use self::error::from_sqlite;

/// The numbered migrations; the database's `user_version` is the last one applied.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_privacy.sql")),
    (3, include_str!("migrations/0003_rowid_sheets.sql")),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Tuning of the SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Read-only connections in the pool.
    pub readers: usize,
    /// Page cache per connection, in MiB.
    pub cache_mib: i64,
    /// How long a connection waits for a lock before giving up.
    pub busy_timeout: Duration,
    /// Writes that may wait for the writer before callers are held back.
    pub write_queue: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            readers: 4,
            cache_mib: 32,
            busy_timeout: Duration::from_secs(5),
            write_queue: 8_192,
        }
    }
}

/// The SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    writer: Writer,
    readers: ReadPool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, migrates it, and starts the writer.
    pub fn open(path: &Path, options: &SqliteOptions) -> Result<Self, StoreError> {
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|error| {
                StoreError::Unavailable(format!(
                    "cannot create the data directory {}: {error}",
                    parent.display()
                ))
            })?;
        }
        let mut connection = Connection::open(path)?;
        configure(&connection, options)?;
        let mode: String =
            connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "the database at {} cannot use WAL mode (got {mode})",
                path.display()
            )));
        }
        migrate(&mut connection)?;
        let readers = (0..options.readers.max(1))
            .map(|_| {
                let reader = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX
                        | OpenFlags::SQLITE_OPEN_URI,
                )?;
                configure(&reader, options)?;
                reader.execute_batch("PRAGMA query_only = ON")?;
                Ok(reader)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: Writer::start(connection, options.write_queue),
            readers: ReadPool::new(readers),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn write<R: Send + 'static>(
        &self,
        write: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.writer.write(write).await
    }

    async fn read<R: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.readers.read(read).await
    }
}

fn configure(connection: &Connection, options: &SqliteOptions) -> Result<(), StoreError> {
    connection.busy_timeout(options.busy_timeout)?;
    // `secure_delete`: content that is deleted or overwritten (a replaced revision, a purged
    // or erased transcript, a customer id leaving an index) is zeroed in the file rather than
    // left in free space, so that erasure really removes it (with the WAL checkpoint that
    // follows an erasure, see `privacy`).
    connection.execute_batch(&format!(
        "PRAGMA secure_delete = ON;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = OFF;
         PRAGMA cache_size = -{};
         PRAGMA temp_store = MEMORY;",
        options.cache_mib * 1024
    ))?;
    Ok(())
}

fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::FailedPrecondition(format!(
            "the database schema is version {version}, newer than this servscore supports ({SCHEMA_VERSION}); upgrade servscore"
        )));
    }
    for (number, sql) in MIGRATIONS.iter().filter(|(number, _)| *number > version) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(sql)?;
        if *number == 2 {
            privacy::backfill_opened_at(&transaction)?;
        }
        transaction.pragma_update(None, "user_version", number)?;
        transaction.commit()?;
        tracing::info!(schema_version = number, "sqlite migration applied");
    }
    Ok(())
}

/// Read-only connections used from blocking threads. A connection goes back to the pool from
/// inside its thread, so a cancelled caller cannot leak it.
struct ReadPool {
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
}

impl ReadPool {
    fn new(connections: Vec<Connection>) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(connections.len())),
            idle: Arc::new(Mutex::new(connections)),
        }
    }

    async fn read<R: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the read pool is closed".to_owned()))?;
        let idle = self.idle.clone();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let connection = idle
                .lock()
                .expect("read pool lock")
                .pop()
                .expect("a permit guarantees an idle connection");
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(&connection)))
                    .unwrap_or_else(|_| Err(StoreError::Internal("a read panicked".to_owned())));
            idle.lock().expect("read pool lock").push(connection);
            drop(permit);
            metrics::histogram!(crate::ops::metrics::STORAGE_READ_SECONDS, "backend" => "sqlite")
                .record(started.elapsed().as_secs_f64());
            result
        })
        .await
        .map_err(|error| StoreError::Internal(format!("a read task failed: {error}")))?
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::proto::v1 as pb;
    use crate::storage::Store;

    /// How SQLite finds a row by its key: "is this team day closed?" (checked by every
    /// scorecard write) and an archived revision.
    fn key_plans(connection: &Connection) -> [String; 2] {
        [
            "SELECT EXISTS (SELECT 1 FROM day_closes WHERE team_id = 't' AND local_date = '2026-11-23')",
            "SELECT scorecard FROM revisions WHERE interaction_id = 'i' AND revision = 1",
        ]
        .map(|query| {
            let mut plan = connection
                .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
                .unwrap();
            let details: Vec<String> = plan
                .query_map([], |row| row.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            details.join("; ")
        })
    }

    #[tokio::test]
    async fn migrating_to_version_3_keeps_closes_and_revisions_and_seeks_them_by_index() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("servscore.db");
        let close = pb::DayClose {
            team_id: "t".to_owned(),
            local_date: "2026-11-23".to_owned(),
            close_time: Some(prost_types::Timestamp {
                seconds: 1_795_478_400,
                nanos: 0,
            }),
            // A sheet several pages long, as a large team's is.
            staff_rollups: (0..200)
                .map(|n| pb::DailyRollup {
                    staff_id: format!("staff-{n:03}"),
                    team_id: "t".to_owned(),
                    local_date: "2026-11-23".to_owned(),
                    interactions: n,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        {
            // A database written by a binary of schema version 2.
            let connection = Connection::open(&path).unwrap();
            for (_, sql) in &MIGRATIONS[..2] {
                connection.execute_batch(sql).unwrap();
            }
            connection.pragma_update(None, "user_version", 2).unwrap();
            connection
                .execute(
                    "INSERT INTO day_closes (team_id, local_date, close_time, trigger, snapshot)
                     VALUES ('t', '2026-11-23', 1795478400000000, 1, ?1)",
                    [close.encode_to_vec()],
                )
                .unwrap();
            connection
                .execute(
                    "INSERT INTO revisions (interaction_id, revision, content_hash, scorecard)
                     VALUES ('i', 1, x'01', x'02')",
                    [],
                )
                .unwrap();
            for plan in key_plans(&connection) {
                assert!(
                    !plan.contains("INDEX"),
                    "version 2 seeks the tables themselves, values and all: {plan}"
                );
            }
        }
        let store = SqliteStore::open(&path, &SqliteOptions::default()).unwrap();
        let date = jiff::civil::date(2026, 11, 23);
        assert_eq!(store.day_close("t", date).await.unwrap(), Some(close));
        drop(store);
        let connection = Connection::open(&path).unwrap();
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let revision: (Vec<u8>, Vec<u8>) = connection
            .query_row(
                "SELECT content_hash, scorecard FROM revisions WHERE interaction_id = 'i' AND revision = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(revision, (vec![1], vec![2]));
        let [closed, revision] = key_plans(&connection);
        assert!(closed.contains("USING COVERING INDEX"), "{closed}");
        assert!(revision.contains("USING INDEX"), "{revision}");
    }
}
