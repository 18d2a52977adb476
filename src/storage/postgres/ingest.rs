//! Scorecard writes in PostgreSQL: the interaction rows locked, each write decided by
//! [`plan`], the rollup deltas added by upserts in the database ([`write_wave`]); then,
//! once for a whole batch of writes, the change feed appended in commit order
//! ([`append_feed`]) — one transaction (see `writer` and the module documentation of
//! `postgres`).

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use deadpool_postgres::Transaction;
use jiff::Timestamp;
use jiff::civil::Date;
use prost::Message;
use tokio_postgres::types::ToSql;

use super::error::Failure;
use super::{ROLLUPS_CHANNEL, lock_key};
use crate::convert::timestamp_to_proto;
use crate::proto::v1 as pb;
use crate::rollup::sums::DaySums;
use crate::storage::plan::{
    Current, Plan, plan, plan_earlier, rollup_deltas, skipped, team_deltas, unchanged,
};
use crate::storage::sql::{Placeholders, sums_upsert};
use crate::storage::{BodyState, RollupKey, ScorecardWrite, StoreError, WriteOutcome, WriteResult};

/// A stored write and the staff-day deltas it added, for the batch's change feed.
pub type Written = (WriteResult, BTreeMap<RollupKey, DaySums>);

/// What a write of a wave does once it is decided.
enum Step {
    /// Answered without a change (unchanged, skipped) or refused.
    Done(Result<Written, StoreError>),
    /// An earlier revision to look up before answering.
    Earlier { stored_revision: i64 },
    /// Stored: the interactions row written (after archiving the stored revision, if any) and
    /// the contribution of `old` swapped for the new one.
    Store {
        archive: Option<Current>,
        old: Option<pb::Scorecard>,
        outcome: WriteOutcome,
    },
}

/// Runs `writes` — of distinct interactions — inside `transaction`, up to the change feed
/// (the caller appends the deltas with [`append_feed`] and commits), in a fixed number of
/// round trips however many writes there are: their rows are locked and read together (in id
/// order), the rows written together, and the daily sums of all of them added together.
/// A write the store refuses is refused before anything is changed for it; a database error
/// fails the whole call.
pub async fn write_wave(
    transaction: &Transaction<'_>,
    mut writes: Vec<ScorecardWrite>,
) -> Result<Vec<Result<Written, StoreError>>, Failure> {
    let statement = transaction
        .prepare_cached(
            "SELECT interaction_id, revision, content_hash, amendment_hash, scorecard, body_state
             FROM interactions WHERE interaction_id = ANY($1)
             ORDER BY interaction_id FOR UPDATE",
        )
        .await?;
    let ids: Vec<&str> = writes
        .iter()
        .map(|write| write.interaction_id.as_str())
        .collect();
    let mut current: HashMap<String, Current> = transaction
        .query(&statement, &[&ids])
        .await?
        .iter()
        .map(|row| {
            let current = Current {
                revision: row.get(1),
                content_hash: row.get(2),
                amendment_hash: row.get(3),
                scorecard: row.get(4),
                body_state: BodyState::from_code(row.get(5)),
            };
            (row.get(0), current)
        })
        .collect();
    let steps: Vec<Step> = writes
        .iter_mut()
        .map(|write| decide(write, current.remove(&write.interaction_id)))
        .collect();

    // Earlier revisions, looked up together.
    let earlier = transaction
        .prepare_cached(
            "SELECT content_hash, scorecard FROM revisions WHERE interaction_id = $1 AND revision = $2",
        )
        .await?;
    let lookups: Vec<[&(dyn ToSql + Sync); 2]> = writes
        .iter()
        .zip(&steps)
        .filter(|(_, step)| matches!(step, Step::Earlier { .. }))
        .map(|(write, _)| {
            [
                &write.interaction_id as &(dyn ToSql + Sync),
                &write.revision,
            ]
        })
        .collect();
    let mut found = futures_util::future::try_join_all(
        lookups
            .iter()
            .map(|params| transaction.query_opt(&earlier, params)),
    )
    .await?
    .into_iter();

    // The rows written together.
    let archive = transaction
        .prepare_cached(
            "INSERT INTO revisions (interaction_id, revision, content_hash, scorecard)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (interaction_id, revision) DO UPDATE
             SET content_hash = excluded.content_hash, scorecard = excluded.scorecard",
        )
        .await?;
    let archived: Vec<[&(dyn ToSql + Sync); 4]> = writes
        .iter()
        .zip(&steps)
        .filter_map(|(write, step)| match step {
            Step::Store {
                archive: Some(current),
                ..
            } => Some([
                &write.interaction_id as &(dyn ToSql + Sync),
                &current.revision,
                &current.content_hash,
                &current.scorecard,
            ]),
            _ => None,
        })
        .collect();
    let archives = futures_util::future::try_join_all(
        archived
            .iter()
            .map(|params| transaction.execute_raw(&archive, params.iter().copied())),
    );
    let stores = futures_util::future::try_join_all(writes.iter().zip(&steps).filter_map(
        |(write, step)| match step {
            Step::Store { outcome, .. } => {
                Some(store(transaction, write, *outcome != WriteOutcome::Created))
            }
            _ => None,
        },
    ));
    futures_util::future::try_join(async { archives.await.map_err(Failure::from) }, stores).await?;

    // The daily sums: every write's deltas, added together.
    let mut results = Vec::with_capacity(writes.len());
    let mut all: BTreeMap<RollupKey, DaySums> = BTreeMap::new();
    for (write, step) in writes.into_iter().zip(steps) {
        results.push(match step {
            Step::Done(result) => result,
            Step::Earlier { stored_revision } => {
                let row = found.next().flatten();
                plan_earlier(
                    &write,
                    stored_revision,
                    row.map(|row| (row.get(0), row.get(1))),
                )
                .map(|result| (result, BTreeMap::new()))
            }
            Step::Store { old, outcome, .. } => {
                let deltas = rollup_deltas(old.as_ref(), &write.scorecard);
                for (key, sums) in &deltas {
                    *all.entry(key.clone()).or_default() += *sums;
                }
                let result = WriteResult {
                    outcome,
                    scorecard: write.scorecard,
                    touched: deltas.keys().cloned().collect(),
                };
                Ok((result, deltas))
            }
        });
    }
    all.retain(|_, sums| !sums.is_zero());
    add_to_sums(transaction, &all).await?;
    Ok(results)
}

/// Decides one write against its stored revision; everything that can refuse it is checked
/// here, before anything is written.
fn decide(write: &mut ScorecardWrite, current: Option<Current>) -> Step {
    let step = decide_step(write, current);
    if matches!(step, Step::Store { .. }) {
        write.scorecard.store_time = Some(timestamp_to_proto(write.now));
    }
    step
}

fn decide_step(write: &mut ScorecardWrite, current: Option<Current>) -> Step {
    let decided = plan(write, current.as_ref());
    if let Err(error) = local_date(&write.scorecard) {
        return Step::Done(Err(error));
    }
    let decode = |current: &Current| pb::Scorecard::decode(current.scorecard.as_slice());
    match (decided, current) {
        (Plan::Create, _) => Step::Store {
            archive: None,
            old: None,
            outcome: WriteOutcome::Created,
        },
        (Plan::Replace, Some(current)) => match decode(&current) {
            Ok(old) => Step::Store {
                archive: Some(current),
                old: Some(old),
                outcome: WriteOutcome::Replaced,
            },
            Err(error) => Step::Done(Err(error.into())),
        },
        (Plan::Rescore, Some(current)) => match decode(&current) {
            Ok(old) => {
                write.amendment_hash = current
                    .amendment_hash
                    .as_deref()
                    .and_then(|hash| hash.try_into().ok());
                Step::Store {
                    archive: None,
                    old: Some(old),
                    outcome: WriteOutcome::Replaced,
                }
            }
            Err(error) => Step::Done(Err(error.into())),
        },
        (Plan::Unchanged, Some(current)) => {
            Step::Done(unchanged(&current.scorecard).map(|result| (result, BTreeMap::new())))
        }
        (Plan::LookUpEarlier, Some(current)) => Step::Earlier {
            stored_revision: current.revision,
        },
        (Plan::Skip, _) => Step::Done(Ok((skipped(), BTreeMap::new()))),
        (Plan::Refuse(error), _) => Step::Done(Err(error)),
        (plan, None) => Step::Done(Err(StoreError::Internal(format!(
            "write plan {plan:?} needs a stored revision"
        )))),
    }
}

/// A scorecard's local date.
pub fn local_date(scorecard: &pb::Scorecard) -> Result<Date, StoreError> {
    scorecard.local_date.parse().map_err(|_| {
        StoreError::Internal(format!(
            "a scorecard's local date is malformed: {:?}",
            scorecard.local_date
        ))
    })
}

/// Inserts or updates the interactions row.
async fn store(
    transaction: &Transaction<'_>,
    write: &ScorecardWrite,
    replacing: bool,
) -> Result<(), Failure> {
    let scorecard = write.scorecard.encode_to_vec();
    let sql = if replacing {
        "UPDATE interactions SET revision = $2, content_hash = $3, amendment_hash = $4, customer_id = $5,
             staff_id = $6, team_id = $7, local_date = $8, tier = $9, channel = $10, grade = $11,
             status = $12, next_due = $13, store_time = $14, body = $15, scorecard = $16,
             opened_at = $17, body_state = $18
         WHERE interaction_id = $1"
    } else {
        "INSERT INTO interactions (interaction_id, revision, content_hash, amendment_hash, customer_id,
             staff_id, team_id, local_date, tier, channel, grade, status, next_due, store_time, body, scorecard,
             opened_at, body_state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    };
    let card = &write.scorecard;
    let statement = transaction.prepare_cached(sql).await?;
    transaction
        .execute(
            &statement,
            &[
                &write.interaction_id,
                &write.revision,
                &write.content_hash.as_slice(),
                &write.amendment_hash.as_ref().map(<[u8; 32]>::as_slice),
                &write.customer_id,
                &card.staff_id,
                &card.team_id,
                &local_date(card)?,
                &i64::from(card.tier),
                &i64::from(card.channel),
                &i64::from(card.grade),
                &i64::from(card.status),
                &write.next_due,
                &write.now,
                &write.body,
                &scorecard,
                &write.opened_at,
                &write.body_state.code(),
            ],
        )
        .await?;
    Ok(())
}

/// Adds the deltas to the staff and team days, in the database.
async fn add_to_sums(
    transaction: &Transaction<'_>,
    deltas: &BTreeMap<RollupKey, DaySums>,
) -> Result<(), Failure> {
    static STAFF_UPSERT: OnceLock<String> = OnceLock::new();
    static TEAM_UPSERT: OnceLock<String> = OnceLock::new();
    let staff_upsert = STAFF_UPSERT.get_or_init(|| {
        sums_upsert(
            Placeholders::Dollar,
            "staff_days",
            &["team_id", "staff_id", "local_date"],
        )
    });
    let team_upsert = TEAM_UPSERT.get_or_init(|| {
        sums_upsert(
            Placeholders::Dollar,
            "team_days",
            &["team_id", "local_date"],
        )
    });
    // Rows are locked in one order (staff days by key, then team days by key), so concurrent
    // writers mostly wait for each other; a deadlock that remains is retried (see `writer`).
    // The upserts are sent together (pipelined: one round trip) and run in that order.
    let staff = transaction.prepare_cached(staff_upsert).await?;
    let team = transaction.prepare_cached(team_upsert).await?;
    let teams = team_deltas(deltas);
    let staff_values: Vec<_> = deltas
        .iter()
        .map(|(key, sums)| (key, sums.to_array()))
        .collect();
    let team_values: Vec<_> = teams
        .iter()
        .map(|(key, sums)| (key, sums.to_array()))
        .collect();
    let mut upserts = Vec::with_capacity(staff_values.len() + team_values.len());
    for (key, values) in &staff_values {
        let mut params: Vec<&(dyn ToSql + Sync)> =
            vec![&key.team_id, &key.staff_id, &key.local_date];
        params.extend(values.iter().map(|value| value as &(dyn ToSql + Sync)));
        upserts.push(transaction.execute_raw(&staff, params));
    }
    for ((team_id, local_date), values) in &team_values {
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![team_id, local_date];
        params.extend(values.iter().map(|value| value as &(dyn ToSql + Sync)));
        upserts.push(transaction.execute_raw(&team, params));
    }
    futures_util::future::try_join_all(upserts).await?;
    Ok(())
}

/// Appends the writes' touched days to the change feed, after counting them as changes after
/// close on closed days: under the feed lock, held from here to commit, in turn with every
/// other batch and with day closes (sequence order is commit order). Takes no row lock that
/// the writes did not take already, so it never waits for a row while holding the lock.
pub async fn append_feed<'d>(
    transaction: &Transaction<'_>,
    writes: impl Iterator<Item = &'d BTreeMap<RollupKey, DaySums>> + Clone,
    now: Timestamp,
) -> Result<(), Failure> {
    if writes.clone().all(BTreeMap::is_empty) {
        return Ok(());
    }
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key::FEED])
        .await?;
    count_changes_after_close(transaction, writes.clone()).await?;
    append_changes(transaction, writes.flat_map(BTreeMap::keys), now).await
}

/// Counts each write as a change after close on the closed days it touched: +1 on the team
/// day, +1 on each of its staff days there. The team days are checked together (one round
/// trip), then the staff days of the closed ones.
async fn count_changes_after_close<'d>(
    transaction: &Transaction<'_>,
    writes: impl Iterator<Item = &'d BTreeMap<RollupKey, DaySums>>,
) -> Result<(), Failure> {
    let team_day = transaction
        .prepare_cached(
            "UPDATE team_days SET changes_after_close = changes_after_close + 1
             WHERE team_id = $1 AND local_date = $2
               AND EXISTS (SELECT 1 FROM day_closes WHERE team_id = $1 AND local_date = $2)",
        )
        .await?;
    let staff_days = transaction
        .prepare_cached(
            "UPDATE staff_days SET changes_after_close = changes_after_close + 1
             WHERE team_id = $1 AND local_date = $2 AND staff_id = ANY($3)",
        )
        .await?;
    // (team, date, staff) of each write's team days, one entry per write and team day.
    let mut days: Vec<(&str, Date, Vec<&str>)> = Vec::new();
    for deltas in writes {
        for (team_id, local_date) in team_deltas(deltas).into_keys() {
            let staff = deltas
                .keys()
                .filter(|key| key.team_id == team_id && key.local_date == local_date)
                .map(|key| key.staff_id.as_str())
                .collect();
            days.push((team_id, local_date, staff));
        }
    }
    let checks = days.iter().map(|(team_id, local_date, _)| {
        let params: [&(dyn ToSql + Sync); 2] = [team_id, local_date];
        transaction.execute_raw(&team_day, params)
    });
    let closed = futures_util::future::try_join_all(checks).await?;
    let counts = days
        .iter()
        .zip(closed)
        .filter(|(_, updated)| *updated > 0)
        .map(|((team_id, local_date, staff), _)| {
            let params: [&(dyn ToSql + Sync); 3] = [team_id, local_date, staff];
            transaction.execute_raw(&staff_days, params)
        });
    futures_util::future::try_join_all(counts).await?;
    Ok(())
}

/// Appends touched days to the change feed and notifies every replica (delivered at commit).
/// Must run under the feed lock.
pub async fn append_changes<'k>(
    transaction: &Transaction<'_>,
    keys: impl Iterator<Item = &'k RollupKey>,
    now: Timestamp,
) -> Result<(), Failure> {
    let mut teams = Vec::new();
    let mut staff = Vec::new();
    let mut dates = Vec::new();
    for key in keys {
        teams.push(key.team_id.as_str());
        staff.push(key.staff_id.as_str());
        dates.push(key.local_date);
    }
    if teams.is_empty() {
        return Ok(());
    }
    let statement = transaction
        .prepare_cached(
            "INSERT INTO rollup_changes (team_id, staff_id, local_date, change_time)
             SELECT team_id, staff_id, local_date, $4
             FROM UNNEST($1::text[], $2::text[], $3::date[]) AS change (team_id, staff_id, local_date)",
        )
        .await?;
    transaction
        .execute(&statement, &[&teams, &staff, &dates, &now])
        .await?;
    transaction
        .execute(&format!("NOTIFY {ROLLUPS_CHANNEL}"), &[])
        .await?;
    Ok(())
}
