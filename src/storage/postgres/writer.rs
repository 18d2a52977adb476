//! Group commit for scorecard writes, as in the SQLite backend: concurrent writes queue up and
//! one task runs them together in one transaction, each inside its own savepoint (a write that
//! fails is rolled back alone; one that finds a key inserted first by another replica is run
//! again inside the same transaction; a deadlock with another replica's batch rolls the whole
//! batch back and runs it again, so that the other one can finish), then appends the
//! batch's changes to the feed under the feed lock and commits once. Nobody hears "done"
//! before the commit.
//!
//! Without it every write would be its own commit, and since the feed lock (and the row of a
//! busy team day) is held until commit, writes would take turns at one WAL flush each: a few
//! hundred per second on a disk that syncs in milliseconds, however many replicas there are.

use std::collections::HashMap;
use std::time::Instant;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use super::error::Failure;
use super::ingest::{append_feed, write_wave};
use crate::storage::{ScorecardWrite, StoreError, WriteResult};

/// Largest number of writes committed together.
const MAX_BATCH: usize = 128;

/// How often a write (inside its savepoint) or a batch (its commit) that collided with a
/// concurrent transaction is run again.
pub const ATTEMPTS: usize = 8;

struct Job {
    write: ScorecardWrite,
    reply: oneshot::Sender<Result<WriteResult, StoreError>>,
}

/// The handle to the writer task.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Writer {
    /// Starts the writer task on connections of `pool`.
    pub fn start(pool: Pool, queue: usize) -> Self {
        let (jobs, receiver) = mpsc::channel(queue);
        let task = tokio::spawn(run(pool, receiver));
        Self { jobs, task }
    }

    /// Runs `write` in the next batch and returns its result once the batch is committed.
    pub async fn write(&self, write: ScorecardWrite) -> Result<WriteResult, StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the database writer has stopped".to_owned());
        self.jobs
            .send(Job { write, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(pool: Pool, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = Vec::with_capacity(16);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // A caller that gave up (deadline, cancel) is not written for: its write stays absent.
        batch.retain(|job| !job.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        commit_batch(&pool, batch).await;
    }
}

async fn commit_batch(pool: &Pool, batch: Vec<Job>) {
    let started = Instant::now();
    let size = batch.len();
    let writes: Vec<&ScorecardWrite> = batch.iter().map(|job| &job.write).collect();
    let mut attempt = 0;
    let mut careful = false;
    let results = loop {
        attempt += 1;
        match run_batch(pool, &writes, careful).await {
            // A write met a database error without a savepoint to roll back to: run the batch
            // again with savepoints, so that the error stays with its write.
            Err(failure @ Failure::Database(_))
                if !careful && !failure.conflicted() && attempt < ATTEMPTS =>
            {
                tracing::debug!(
                    ?failure,
                    "a write failed in a batch; running it with savepoints"
                );
                careful = true;
            }
            Err(failure) if failure.retryable() && attempt < ATTEMPTS => {
                tracing::debug!(
                    attempt,
                    ?failure,
                    "a write batch collided; running it again"
                );
                // Apart from the batch it collided with, which runs on meanwhile.
                tokio::time::sleep(std::time::Duration::from_millis(fastrand::u64(
                    1..(2 << attempt),
                )))
                .await;
            }
            Err(failure) => {
                let error = StoreError::from(failure);
                break writes.iter().map(|_| Err(error.clone())).collect();
            }
            Ok(results) => break results,
        }
    };
    metrics::histogram!(crate::ops::metrics::STORAGE_COMMIT_SECONDS, "backend" => "postgres")
        .record(started.elapsed().as_secs_f64());
    metrics::histogram!(crate::ops::metrics::STORAGE_COMMIT_BATCH_SIZE, "backend" => "postgres")
        .record(size as f64);
    for (job, result) in batch.into_iter().zip(results) {
        let _ = job.reply.send(result);
    }
}

/// One transaction for the batch, the feed, one commit. The writes go in waves of distinct
/// interactions (a second write of one interaction waits for the next wave), each wave in a
/// fixed number of round trips. A write the store refuses (a conflict with the stored
/// revision, say) is refused before anything changes for it, so it needs no savepoint;
/// `careful` runs each write alone in a savepoint, for when a database error hit the batch
/// (the error then stays with its write; a key inserted first by another replica reruns just
/// that write).
async fn run_batch(
    pool: &Pool,
    writes: &[&ScorecardWrite],
    careful: bool,
) -> Result<Vec<Result<WriteResult, StoreError>>, Failure> {
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let mut transaction = client.transaction().await?;
    let mut results: Vec<Option<Result<WriteResult, StoreError>>> = vec![None; writes.len()];
    let mut deltas = Vec::with_capacity(writes.len());
    if careful {
        for (index, write) in writes.iter().enumerate() {
            let mut attempt = 0;
            results[index] = Some(loop {
                attempt += 1;
                let savepoint = transaction.savepoint("write").await?;
                match write_wave(&savepoint, vec![(*write).clone()]).await {
                    Ok(mut written) => {
                        savepoint.commit().await?;
                        break match written.pop().expect("one result per write") {
                            Ok((result, written)) => {
                                deltas.push(written);
                                Ok(result)
                            }
                            Err(error) => Err(error),
                        };
                    }
                    // The whole batch gives up its locks and runs again.
                    Err(failure) if failure.conflicted() => return Err(failure),
                    Err(failure) => {
                        savepoint.rollback().await?;
                        if failure.retryable() && attempt < ATTEMPTS {
                            continue;
                        }
                        break Err(StoreError::from(failure));
                    }
                }
            });
        }
    } else {
        for wave in waves(writes) {
            let batch = wave.iter().map(|index| writes[*index].clone()).collect();
            for (index, written) in wave.into_iter().zip(write_wave(&transaction, batch).await?) {
                results[index] = Some(written.map(|(result, written)| {
                    deltas.push(written);
                    result
                }));
            }
        }
    }
    let now = writes
        .iter()
        .map(|write| write.now)
        .max()
        .unwrap_or_else(jiff::Timestamp::now);
    append_feed(&transaction, deltas.iter(), now).await?;
    transaction.commit().await?;
    Ok(results
        .into_iter()
        .map(|result| result.expect("every write answered"))
        .collect())
}

/// Positions of the writes in waves: the n-th write of an interaction goes in wave n, so each
/// wave has distinct interactions and each interaction's writes keep their order.
fn waves(writes: &[&ScorecardWrite]) -> Vec<Vec<usize>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut waves: Vec<Vec<usize>> = Vec::new();
    for (index, write) in writes.iter().enumerate() {
        let count = seen.entry(write.interaction_id.as_str()).or_default();
        if waves.len() <= *count {
            waves.push(Vec::new());
        }
        waves[*count].push(index);
        *count += 1;
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_hold_distinct_interactions_and_keep_each_ones_order() {
        let write = |id: &str| ScorecardWrite {
            interaction_id: id.to_owned(),
            revision: 1,
            content_hash: [0; 32],
            amendment_hash: None,
            customer_id: String::new(),
            body: Vec::new(),
            body_state: crate::storage::BodyState::Complete,
            based_on: None,
            opened_at: jiff::Timestamp::UNIX_EPOCH,
            scorecard: Default::default(),
            next_due: None,
            mode: crate::storage::WriteMode::Ingest,
            now: jiff::Timestamp::UNIX_EPOCH,
        };
        let writes = [
            write("a"),
            write("b"),
            write("a"),
            write("c"),
            write("a"),
            write("b"),
        ];
        let writes: Vec<&ScorecardWrite> = writes.iter().collect();
        assert_eq!(waves(&writes), [vec![0, 1, 3], vec![2, 5], vec![4]]);
    }
}
