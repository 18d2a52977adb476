//! The scorecard write: idempotency on (interaction id, revision, content), replacement of a
//! lower revision, amendments and re-scores, with the rollup contribution swapped in the same
//! transaction (run by the group-commit writer).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use prost::Message;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::convert::timestamp_to_proto;
use crate::proto::v1 as pb;
use crate::rollup::sums::DaySums;
use crate::storage::plan::{
    Current, Plan, plan, plan_earlier, rollup_deltas, skipped, team_deltas, unchanged,
};
use crate::storage::sql::{Placeholders, sums_upsert};
use crate::storage::{BodyState, RollupKey, ScorecardWrite, StoreError, WriteOutcome, WriteResult};

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

/// Runs one scorecard write inside the writer's transaction.
pub fn write_scorecard(
    connection: &Connection,
    mut write: ScorecardWrite,
) -> Result<WriteResult, StoreError> {
    let current = current(connection, &write.interaction_id)?;
    match (plan(&write, current.as_ref()), current) {
        (Plan::Create, _) => {
            store(connection, &mut write, false)?;
            finish(connection, write, None, WriteOutcome::Created)
        }
        (Plan::Replace, Some(current)) => {
            let old = archive_and_replace(connection, &mut write, current)?;
            finish(connection, write, Some(old), WriteOutcome::Replaced)
        }
        (Plan::Rescore, Some(current)) => {
            let old = pb::Scorecard::decode(current.scorecard.as_slice())?;
            write.amendment_hash = current
                .amendment_hash
                .as_deref()
                .and_then(|hash| hash.try_into().ok());
            store(connection, &mut write, true)?;
            finish(connection, write, Some(old), WriteOutcome::Replaced)
        }
        (Plan::Unchanged, Some(current)) => unchanged(&current.scorecard),
        (Plan::LookUpEarlier, Some(current)) => {
            let earlier: Option<(Vec<u8>, Vec<u8>)> = connection
                .prepare_cached(
                    "SELECT content_hash, scorecard FROM revisions WHERE interaction_id = ?1 AND revision = ?2",
                )?
                .query_row(params![write.interaction_id, write.revision], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            plan_earlier(&write, current.revision, earlier)
        }
        (Plan::Skip, _) => Ok(skipped()),
        (Plan::Refuse(error), _) => Err(error),
        (plan, None) => Err(StoreError::Internal(format!(
            "write plan {plan:?} needs a stored revision"
        ))),
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
    store(connection, write, true)?;
    Ok(old)
}

/// Upserts the interactions row.
fn store(
    connection: &Connection,
    write: &mut ScorecardWrite,
    replacing: bool,
) -> Result<(), StoreError> {
    write.scorecard.store_time = Some(timestamp_to_proto(write.now));
    let scorecard = write.scorecard.encode_to_vec();
    let sql = if replacing {
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
    let deltas = rollup_deltas(old.as_ref(), &write.scorecard);
    let touched = apply_deltas(connection, &deltas, write.now.as_microsecond())?;
    Ok(WriteResult {
        outcome,
        scorecard: write.scorecard,
        touched,
    })
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
    let staff_upsert = STAFF_UPSERT.get_or_init(|| {
        sums_upsert(
            Placeholders::Question,
            "staff_days",
            &["team_id", "staff_id", "local_date"],
        )
    });
    let team_upsert = TEAM_UPSERT.get_or_init(|| {
        sums_upsert(
            Placeholders::Question,
            "team_days",
            &["team_id", "local_date"],
        )
    });

    for (key, sums) in deltas {
        let date = key.local_date.to_string();
        let values = sums.to_array();
        let mut statement = connection.prepare_cached(staff_upsert)?;
        statement.execute(params_from_iter(
            [&key.team_id as &dyn rusqlite::ToSql, &key.staff_id, &date]
                .into_iter()
                .chain(values.iter().map(|value| value as &dyn rusqlite::ToSql)),
        ))?;
        connection
            .prepare_cached(
                "INSERT INTO rollup_changes (team_id, staff_id, local_date, change_time) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![key.team_id, key.staff_id, date, now_micros])?;
    }
    for ((team_id, local_date), sums) in &team_deltas(deltas) {
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
