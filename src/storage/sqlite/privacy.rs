//! Data minimisation in the SQLite backend: the retention purge, the erasure of a customer's
//! data, and making sure that what was removed is gone from the files too.
//!
//! Rows are changed in place (inside the group-commit writer's transaction); the scorecard
//! scores and the daily sums are never touched, so rollups stay equal to their
//! recomputation. Removed bytes do not linger: every connection runs with
//! `secure_delete = ON` (freed cells and pages are zeroed), and after a purge or an erasure
//! the write-ahead log, which still holds the earlier page images, is checkpointed and
//! truncated to zero bytes.

use std::time::Duration;

use jiff::Timestamp;
use prost::Message;
use rusqlite::{Connection, params};

use super::SqliteStore;
use crate::proto::v1 as pb;
use crate::storage::redact::{erase_snippets, redact_body};
use crate::storage::{BodyState, StoreError};

/// The WAL checkpoint after a purge or an erasure waits for readers and the writer for at
/// most about `SCRUB_ATTEMPTS × (SCRUB_BUSY_TIMEOUT + SCRUB_PAUSE)`.
const SCRUB_ATTEMPTS: u32 = 20;
const SCRUB_BUSY_TIMEOUT: Duration = Duration::from_millis(250);
const SCRUB_PAUSE: Duration = Duration::from_millis(25);

/// Sets `opened_at` of rows stored before schema version 2 from their bodies (run inside
/// the migration's transaction). A row whose body does not say is never purged.
pub fn backfill_opened_at(connection: &Connection) -> Result<(), StoreError> {
    let rows: Vec<(String, Vec<u8>)> = {
        let mut statement = connection.prepare(
            "SELECT interaction_id, body FROM interactions WHERE opened_at IS NULL AND body IS NOT NULL",
        )?;
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    let mut update =
        connection.prepare("UPDATE interactions SET opened_at = ?2 WHERE interaction_id = ?1")?;
    for (interaction_id, body) in rows {
        let opened_at = pb::Interaction::decode(body.as_slice())?
            .opened_at
            .and_then(|at| Timestamp::new(at.seconds, at.nanos).ok());
        if let Some(opened_at) = opened_at {
            update.execute(params![interaction_id, opened_at.as_microsecond()])?;
        }
    }
    Ok(())
}

/// The redacted form of a stored body.
fn redacted(body: Option<Vec<u8>>) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(body.map(|body| redact_body(&body)).transpose()?)
}

/// Redacts the bodies of at most `limit` interactions opened before `opened_before` that are
/// not redacted yet; returns how many.
pub fn purge_bodies(
    connection: &Connection,
    opened_before: Timestamp,
    limit: usize,
) -> Result<usize, StoreError> {
    let rows: Vec<(String, Option<Vec<u8>>)> = {
        let mut statement = connection.prepare_cached(
            "SELECT interaction_id, body FROM interactions
             WHERE body_state < ?1 AND opened_at < ?2 ORDER BY opened_at LIMIT ?3",
        )?;
        statement
            .query_map(
                params![
                    BodyState::Redacted.code(),
                    opened_before.as_microsecond(),
                    limit as i64
                ],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?
            .collect::<Result<_, _>>()?
    };
    for (interaction_id, body) in &rows {
        connection
            .prepare_cached(
                "UPDATE interactions SET body = ?2, customer_id = '', body_state = ?3 WHERE interaction_id = ?1",
            )?
            .execute(params![
                interaction_id,
                redacted(body.clone())?,
                BodyState::Redacted.code()
            ])?;
    }
    Ok(rows.len())
}

/// Erases the data of one customer: redacts the body of each of their interactions and blanks
/// the evidence snippets of every revision's scorecard; returns how many interactions.
pub fn erase_customer(connection: &Connection, customer_id: &str) -> Result<u64, StoreError> {
    let rows: Vec<(String, Option<Vec<u8>>, Vec<u8>)> = {
        let mut statement = connection.prepare_cached(
            "SELECT interaction_id, body, scorecard FROM interactions
             WHERE customer_id = ?1 AND customer_id <> ''",
        )?;
        statement
            .query_map([customer_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?
            .collect::<Result<_, _>>()?
    };
    for (interaction_id, body, scorecard) in &rows {
        let mut scorecard = pb::Scorecard::decode(scorecard.as_slice())?;
        erase_snippets(&mut scorecard);
        connection
            .prepare_cached(
                "UPDATE interactions SET body = ?2, scorecard = ?3, customer_id = '', body_state = ?4
                 WHERE interaction_id = ?1",
            )?
            .execute(params![
                interaction_id,
                redacted(body.clone())?,
                scorecard.encode_to_vec(),
                BodyState::Redacted.code()
            ])?;
        let archived: Vec<(i64, Vec<u8>)> = {
            let mut statement = connection.prepare_cached(
                "SELECT revision, scorecard FROM revisions WHERE interaction_id = ?1",
            )?;
            statement
                .query_map([interaction_id], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        for (revision, scorecard) in archived {
            let mut scorecard = pb::Scorecard::decode(scorecard.as_slice())?;
            if erase_snippets(&mut scorecard) {
                connection
                    .prepare_cached(
                        "UPDATE revisions SET scorecard = ?3 WHERE interaction_id = ?1 AND revision = ?2",
                    )?
                    .execute(params![interaction_id, revision, scorecard.encode_to_vec()])?;
            }
        }
    }
    Ok(rows.len() as u64)
}

impl SqliteStore {
    /// Checkpoints the write-ahead log into the database and truncates it to zero bytes, so
    /// that page images from before a purge or an erasure are not left in it. Waits for
    /// readers and the writer for a while; if it cannot finish, the log keeps them until the
    /// next checkpoint, which is logged.
    pub(super) async fn scrub_wal(&self) {
        let path = self.path.clone();
        let outcome = tokio::task::spawn_blocking(move || -> Result<bool, StoreError> {
            let connection = Connection::open(&path)?;
            connection.busy_timeout(SCRUB_BUSY_TIMEOUT)?;
            for _ in 0..SCRUB_ATTEMPTS {
                let busy: i64 =
                    connection
                        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
                if busy == 0 {
                    return Ok(true);
                }
                std::thread::sleep(SCRUB_PAUSE);
            }
            Ok(false)
        })
        .await;
        match outcome {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => tracing::warn!(
                "the write-ahead log could not be truncated after removing customer data; it is overwritten by later checkpoints"
            ),
            Ok(Err(error)) => {
                tracing::warn!(%error, "checkpointing the write-ahead log after removing customer data failed")
            }
            Err(error) => {
                tracing::warn!(%error, "checkpointing the write-ahead log after removing customer data panicked")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::SqliteOptions;

    #[test]
    fn migrating_to_version_2_takes_opened_at_from_the_stored_bodies() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("servscore.db");
        let opened_at = Timestamp::from_second(1_795_435_200).unwrap();
        {
            // A database written by a binary of schema version 1.
            let connection = Connection::open(&path).unwrap();
            connection
                .execute_batch(include_str!("migrations/0001_init.sql"))
                .unwrap();
            connection.pragma_update(None, "user_version", 1).unwrap();
            let body = pb::Interaction {
                interaction_id: "old".to_owned(),
                opened_at: Some(crate::convert::timestamp_to_proto(opened_at)),
                ..Default::default()
            };
            connection
                .execute(
                    "INSERT INTO interactions (interaction_id, revision, content_hash, customer_id,
                         staff_id, team_id, local_date, tier, channel, grade, status, store_time, body, scorecard)
                     VALUES ('old', 1, x'00', 'c', 's', 't', '2026-11-23', 1, 1, 1, 1, 0, ?1, x'')",
                    [body.encode_to_vec()],
                )
                .unwrap();
        }
        let store = SqliteStore::open(&path, &SqliteOptions::default()).unwrap();
        drop(store);
        let connection = Connection::open(&path).unwrap();
        let (stored_opened_at, body_state, version): (Option<i64>, i64, i64) = connection
            .query_row(
                "SELECT opened_at, body_state, (SELECT user_version FROM pragma_user_version) FROM interactions",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .unwrap();
        assert_eq!(stored_opened_at, Some(opened_at.as_microsecond()));
        assert_eq!(BodyState::from_code(body_state), BodyState::Complete);
        assert_eq!(version, crate::storage::sqlite::SCHEMA_VERSION);
    }
}
