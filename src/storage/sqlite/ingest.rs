//! The scorecard write: idempotency on (interaction id, revision, content), replacement of a
//! lower revision, amendments and re-scores, with the rollup contribution swapped in the same
//! transaction (run by the group-commit writer).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use prost::Message;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::convert::timestamp_to_proto;
use crate::proto::v1 as pb;
use crate::rollup::sums::{Contribution, DaySums};
use crate::storage::{
    BodyState, RollupKey, ScorecardWrite, StoreError, WriteMode, WriteOutcome, WriteResult,
};

struct Current {
    revision: i64,
    content_hash: Vec<u8>,
    amendment_hash: Option<Vec<u8>>,
    scorecard: Vec<u8>,
    body_state: BodyState,
}

fn current(connection: &Connection, interaction_id: &str) -> Result<Option<Current>, StoreError> {
    Ok(connection
        .prepare_cached(
            "SELECT revision, content_hash, amendment_hash, scorecard, body_state FROM interactions WHERE interaction_id = ?1",
        )?
        .query_row([interaction_id], |row| {
            Ok(Current {
                revision: row.get(0)?,
                content_hash: row.get(1)?,
                amendment_hash: row.get(2)?,
                scorecard: row.get(3)?,
                body_state: BodyState::from_code(row.get(4)?),
            })
        })
        .optional()?)
}

/// Whether the stored body was redacted after the write read it (an erasure or a purge in
/// between): writing the write's body would bring back what was removed.
fn redacted_since(write: &ScorecardWrite, current: &Current) -> bool {
    write
        .based_on
        .is_some_and(|based_on| current.body_state != based_on)
}

fn unchanged(scorecard: &[u8]) -> Result<WriteResult, StoreError> {
    Ok(WriteResult {
        outcome: WriteOutcome::Unchanged,
        scorecard: pb::Scorecard::decode(scorecard)?,
        touched: Vec::new(),
    })
}

/// Runs one scorecard write inside the writer's transaction.
pub fn write_scorecard(
    connection: &Connection,
    mut write: ScorecardWrite,
) -> Result<WriteResult, StoreError> {
    let id = write.interaction_id.clone();
    let current = current(connection, &id)?;
    match (&write.mode, current) {
        (WriteMode::Ingest, None) => {
            store(connection, &mut write, None)?;
            finish(connection, write, None, WriteOutcome::Created)
        }
        (WriteMode::Ingest, Some(current)) if current.revision == write.revision => {
            if current.content_hash == write.content_hash {
                unchanged(&current.scorecard)
            } else {
                Err(StoreError::AlreadyExists(format!(
                    "revision {} of interaction {id} is already stored with different content; send a higher revision to replace it",
                    write.revision
                )))
            }
        }
        (WriteMode::Ingest, Some(current)) if current.revision > write.revision => {
            let earlier: Option<(Vec<u8>, Vec<u8>)> = connection
                .prepare_cached(
                    "SELECT content_hash, scorecard FROM revisions WHERE interaction_id = ?1 AND revision = ?2",
                )?
                .query_row(params![id, write.revision], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            match earlier {
                Some((hash, scorecard)) if hash == write.content_hash => unchanged(&scorecard),
                Some(_) => Err(StoreError::AlreadyExists(format!(
                    "revision {} of interaction {id} was stored earlier with different content (the stored revision is now {})",
                    write.revision, current.revision
                ))),
                None => Err(StoreError::FailedPrecondition(format!(
                    "revision {} of interaction {id} is older than the stored revision {}",
                    write.revision, current.revision
                ))),
            }
        }
        (WriteMode::Ingest, Some(current)) => {
            let old = archive_and_replace(connection, &mut write, current)?;
            finish(connection, write, Some(old), WriteOutcome::Replaced)
        }
        (WriteMode::Amend { .. }, None) => Err(StoreError::NotFound(format!(
            "interaction {id} is not stored"
        ))),
        (WriteMode::Amend { expected_revision }, Some(current)) => {
            let expected_revision = *expected_revision;
            if current.revision == expected_revision && redacted_since(&write, &current) {
                return Err(StoreError::Aborted(format!(
                    "the data of interaction {id} was erased or purged while it was amended; retry the amendment"
                )));
            }
            if current.revision == expected_revision {
                let old = archive_and_replace(connection, &mut write, current)?;
                return finish(connection, write, Some(old), WriteOutcome::Replaced);
            }
            let retried = current.revision == expected_revision + 1
                && current.amendment_hash.is_some()
                && current.amendment_hash.as_deref()
                    == write.amendment_hash.as_ref().map(<[u8; 32]>::as_slice);
            if retried {
                return unchanged(&current.scorecard);
            }
            Err(StoreError::FailedPrecondition(format!(
                "interaction {id} is at revision {}, not {expected_revision}: amend the latest revision",
                current.revision
            )))
        }
        (WriteMode::Rescore, Some(current))
            if current.revision == write.revision
                && current.content_hash == write.content_hash
                && !redacted_since(&write, &current) =>
        {
            let old = pb::Scorecard::decode(current.scorecard.as_slice())?;
            write.amendment_hash = current
                .amendment_hash
                .as_deref()
                .and_then(|hash| hash.try_into().ok());
            store(connection, &mut write, Some(&current))?;
            finish(connection, write, Some(old), WriteOutcome::Replaced)
        }
        (WriteMode::Rescore, _) => Ok(WriteResult {
            outcome: WriteOutcome::Skipped,
            scorecard: pb::Scorecard::default(),
            touched: Vec::new(),
        }),
    }
}

/// Keeps the replaced revision's hash and scorecard, then stores the new revision.
fn archive_and_replace(
    connection: &Connection,
    write: &mut ScorecardWrite,
    current: Current,
) -> Result<pb::Scorecard, StoreError> {
    connection
        .prepare_cached(
            "INSERT OR REPLACE INTO revisions (interaction_id, revision, content_hash, scorecard) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![write.interaction_id, current.revision, current.content_hash, current.scorecard])?;
    let old = pb::Scorecard::decode(current.scorecard.as_slice())?;
    store(connection, write, Some(&current))?;
    Ok(old)
}

/// Upserts the interactions row.
fn store(
    connection: &Connection,
    write: &mut ScorecardWrite,
    replacing: Option<&Current>,
) -> Result<(), StoreError> {
    write.scorecard.store_time = Some(timestamp_to_proto(write.now));
    let scorecard = write.scorecard.encode_to_vec();
    let sql = if replacing.is_some() {
        "UPDATE interactions SET revision = ?2, content_hash = ?3, amendment_hash = ?4, customer_id = ?5,
             staff_id = ?6, team_id = ?7, local_date = ?8, tier = ?9, channel = ?10, grade = ?11,
             status = ?12, next_due = ?13, store_time = ?14, body = ?15, scorecard = ?16,
             opened_at = ?17, body_state = ?18
         WHERE interaction_id = ?1"
    } else {
        "INSERT INTO interactions (interaction_id, revision, content_hash, amendment_hash, customer_id,
             staff_id, team_id, local_date, tier, channel, grade, status, next_due, store_time, body, scorecard,
             opened_at, body_state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
    };
    let card = &write.scorecard;
    connection.prepare_cached(sql)?.execute(params![
        write.interaction_id,
        write.revision,
        write.content_hash.as_slice(),
        write.amendment_hash.as_ref().map(<[u8; 32]>::as_slice),
        write.customer_id,
        card.staff_id,
        card.team_id,
        card.local_date,
        card.tier,
        card.channel,
        card.grade,
        card.status,
        write.next_due.map(|due| due.as_microsecond()),
        write.now.as_microsecond(),
        write.body,
        scorecard,
        write.opened_at.as_microsecond(),
        write.body_state.code(),
    ])?;
    Ok(())
}

/// Swaps the rollup contribution and records the change feed.
fn finish(
    connection: &Connection,
    write: ScorecardWrite,
    old: Option<pb::Scorecard>,
    outcome: WriteOutcome,
) -> Result<WriteResult, StoreError> {
    let mut deltas: BTreeMap<RollupKey, DaySums> = BTreeMap::new();
    let mut add = |contribution: Contribution, negate: bool| {
        for (date, sums) in contribution.days {
            let key = RollupKey {
                team_id: contribution.team_id.clone(),
                staff_id: contribution.staff_id.clone(),
                local_date: date,
            };
            *deltas.entry(key).or_default() += if negate { -sums } else { sums };
        }
    };
    if let Some(old) = &old {
        add(Contribution::of(old), true);
    }
    add(Contribution::of(&write.scorecard), false);
    deltas.retain(|_, sums| !sums.is_zero());
    let touched = apply_deltas(connection, &deltas, write.now.as_microsecond())?;
    Ok(WriteResult {
        outcome,
        scorecard: write.scorecard,
        touched,
    })
}

fn upsert_sql(table: &str, keys: &[&str]) -> String {
    let fields = DaySums::FIELDS;
    let columns: Vec<&str> = keys.iter().chain(fields).copied().collect();
    let placeholders: Vec<String> = (1..=columns.len())
        .map(|index| format!("?{index}"))
        .collect();
    let updates: Vec<String> = fields
        .iter()
        .map(|field| format!("{field} = {field} + excluded.{field}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
        columns.join(", "),
        placeholders.join(", "),
        keys.join(", "),
        updates.join(", ")
    )
}

/// Adds the deltas to the staff and team days, counts changes to closed days, and appends
/// the touched staff days to the change feed.
pub fn apply_deltas(
    connection: &Connection,
    deltas: &BTreeMap<RollupKey, DaySums>,
    now_micros: i64,
) -> Result<Vec<RollupKey>, StoreError> {
    static STAFF_UPSERT: OnceLock<String> = OnceLock::new();
    static TEAM_UPSERT: OnceLock<String> = OnceLock::new();
    let staff_upsert = STAFF_UPSERT
        .get_or_init(|| upsert_sql("staff_days", &["team_id", "staff_id", "local_date"]));
    let team_upsert =
        TEAM_UPSERT.get_or_init(|| upsert_sql("team_days", &["team_id", "local_date"]));

    let mut team_deltas: BTreeMap<(&str, jiff::civil::Date), DaySums> = BTreeMap::new();
    for (key, sums) in deltas {
        let date = key.local_date.to_string();
        let values = sums.to_array();
        let mut statement = connection.prepare_cached(staff_upsert)?;
        statement.execute(params_from_iter(
            [&key.team_id as &dyn rusqlite::ToSql, &key.staff_id, &date]
                .into_iter()
                .chain(values.iter().map(|value| value as &dyn rusqlite::ToSql)),
        ))?;
        *team_deltas
            .entry((key.team_id.as_str(), key.local_date))
            .or_default() += *sums;
        connection
            .prepare_cached(
                "INSERT INTO rollup_changes (team_id, staff_id, local_date, change_time) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![key.team_id, key.staff_id, date, now_micros])?;
    }
    for ((team_id, local_date), sums) in &team_deltas {
        let date = local_date.to_string();
        let values = sums.to_array();
        connection
            .prepare_cached(team_upsert)?
            .execute(params_from_iter(
                [team_id as &dyn rusqlite::ToSql, &date]
                    .into_iter()
                    .chain(values.iter().map(|value| value as &dyn rusqlite::ToSql)),
            ))?;
        let closed: bool = connection
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM day_closes WHERE team_id = ?1 AND local_date = ?2)",
            )?
            .query_row(params![team_id, date], |row| row.get(0))?;
        if closed {
            connection
                .prepare_cached(
                    "UPDATE team_days SET changes_after_close = changes_after_close + 1 WHERE team_id = ?1 AND local_date = ?2",
                )?
                .execute(params![team_id, date])?;
            for key in deltas
                .keys()
                .filter(|key| key.team_id == *team_id && key.local_date == *local_date)
            {
                connection
                    .prepare_cached(
                        "UPDATE staff_days SET changes_after_close = changes_after_close + 1
                         WHERE team_id = ?1 AND staff_id = ?2 AND local_date = ?3",
                    )?
                    .execute(params![team_id, key.staff_id, date])?;
            }
        }
    }
    Ok(deltas.keys().cloned().collect())
}
