//! Group commit: one thread owns the write connection; concurrent writes queue up and are
//! executed together in one `BEGIN IMMEDIATE` transaction, each inside its own savepoint (a
//! failing write rolls back alone), then one `COMMIT` (one fsync) acknowledges them all.
//! Nobody hears "done" before the commit is durable.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::error::from_sqlite;
use crate::storage::StoreError;

/// Largest number of writes committed together.
const MAX_BATCH: usize = 512;

/// Called once the batch's commit is known, with its outcome.
type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A write: runs inside its savepoint (or, given no connection, does not run at all);
/// returns whether to keep its changes, and how to answer.
type Job = Box<dyn FnOnce(Option<&Connection>) -> (bool, Completion) + Send>;

/// The handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on `connection`.
    pub fn start(connection: Connection, queue: usize) -> Self {
        let (jobs, receiver) = mpsc::channel(queue);
        std::thread::Builder::new()
            .name("servscore-sqlite-writer".to_owned())
            .spawn(move || run(connection, receiver))
            .expect("spawning the SQLite writer thread");
        Self { jobs }
    }

    /// Runs `write` in the next batch and returns its result once the batch is committed.
    pub async fn write<R: Send + 'static>(
        &self,
        write: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |connection| {
            let result = match connection {
                None => Err(StoreError::Unavailable("the write was not run".to_owned())),
                Some(connection) => catch_unwind(AssertUnwindSafe(|| write(connection)))
                    .unwrap_or_else(|panic| {
                        let message = panic
                            .downcast_ref::<&str>()
                            .map(|text| (*text).to_owned())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        Err(StoreError::Internal(format!("a write panicked: {message}")))
                    }),
            };
            let keep = result.is_ok();
            let completion: Completion = Box::new(move |commit| {
                let _ = reply.send(commit.and(result));
            });
            (keep, completion)
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".to_owned()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".to_owned()))?
    }
}

fn run(connection: Connection, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.blocking_recv() {
        let mut batch = Vec::with_capacity(16);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&connection, batch);
    }
    tracing::debug!("sqlite writer stopped");
}

fn commit_batch(connection: &Connection, batch: Vec<Job>) {
    let started = Instant::now();
    let size = batch.len();
    if let Err(error) = connection.execute_batch("BEGIN IMMEDIATE") {
        let error = from_sqlite(error);
        for job in batch {
            // Not run; the caller hears why.
            let (_, completion) = job(None);
            completion(Err(error.clone()));
        }
        return;
    }
    let mut completions = Vec::with_capacity(size);
    // Prepared once per connection: parsing these per write was a visible part of the
    // writer thread's time.
    let statement = |sql: &str| {
        connection
            .prepare_cached(sql)
            .and_then(|mut s| s.execute([]))
    };
    for job in batch {
        if let Err(error) = statement("SAVEPOINT write") {
            let (_, completion) = job(None);
            completions.push((completion, Some(from_sqlite(error))));
            continue;
        }
        let (keep, completion) = job(Some(connection));
        let end = if keep {
            statement("RELEASE write")
        } else {
            statement("ROLLBACK TO write").and_then(|_| statement("RELEASE write"))
        };
        completions.push((completion, end.err().map(from_sqlite)));
    }
    let commit = connection.execute_batch("COMMIT").map_err(from_sqlite);
    if commit.is_err() {
        let _ = connection.execute_batch("ROLLBACK");
    }
    metrics::histogram!(crate::ops::metrics::STORAGE_COMMIT_SECONDS, "backend" => "sqlite")
        .record(started.elapsed().as_secs_f64());
    metrics::histogram!(crate::ops::metrics::STORAGE_COMMIT_BATCH_SIZE, "backend" => "sqlite")
        .record(size as f64);
    for (completion, savepoint_error) in completions {
        completion(match (&commit, savepoint_error) {
            (Err(error), _) => Err(error.clone()),
            (Ok(()), Some(error)) => Err(error),
            (Ok(()), None) => Ok(()),
        });
    }
}
