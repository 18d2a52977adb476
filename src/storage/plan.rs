//! What a scorecard write does to the stored state, decided the same way by every backend.
//! A backend reads the stored revision of the interaction (locked, where the database has row
//! locks), asks [`plan`] what to do, carries that out in the same transaction, and adds the
//! [`rollup_deltas`] to the daily sums.

use std::collections::BTreeMap;

use jiff::civil::Date;
use prost::Message;

use crate::proto::v1 as pb;
use crate::rollup::sums::{Contribution, DaySums};
use crate::storage::{
    BodyState, RollupKey, ScorecardWrite, StoreError, WriteMode, WriteOutcome, WriteResult,
};

/// The stored revision of an interaction, as a write needs it.
#[derive(Debug, Clone)]
pub struct Current {
    /// The stored revision.
    pub revision: i64,
    /// Its content hash.
    pub content_hash: Vec<u8>,
    /// The hash of the amendment that made it, if one did.
    pub amendment_hash: Option<Vec<u8>>,
    /// Its encoded scorecard.
    pub scorecard: Vec<u8>,
    /// What its body still holds.
    pub body_state: BodyState,
}

/// What to do with a write.
#[derive(Debug)]
pub enum Plan {
    /// Store a new interaction.
    Create,
    /// Archive the stored revision, then store the write in its place.
    Replace,
    /// Store the re-scored revision over itself (the amendment hash is kept).
    Rescore,
    /// Nothing to store: the stored scorecard is the answer.
    Unchanged,
    /// The write is an earlier revision: look it up and ask [`plan_earlier`].
    LookUpEarlier,
    /// A re-score found the stored revision changed meanwhile: nothing to do.
    Skip,
    /// The write is refused.
    Refuse(StoreError),
}

/// Whether the stored body was redacted after the write read it (an erasure or a purge in
/// between): writing the write's body would bring back what was removed.
fn redacted_since(write: &ScorecardWrite, current: &Current) -> bool {
    write
        .based_on
        .is_some_and(|based_on| current.body_state != based_on)
}

/// Decides a write against the stored revision (DESIGN §4: idempotent on id, revision and
/// content; a higher revision replaces; amendments apply to the latest revision).
pub fn plan(write: &ScorecardWrite, current: Option<&Current>) -> Plan {
    let id = &write.interaction_id;
    match (&write.mode, current) {
        (WriteMode::Ingest, None) => Plan::Create,
        (WriteMode::Ingest, Some(current)) if current.revision == write.revision => {
            if current.content_hash == write.content_hash {
                Plan::Unchanged
            } else {
                Plan::Refuse(StoreError::AlreadyExists(format!(
                    "revision {} of interaction {id} is already stored with different content; send a higher revision to replace it",
                    write.revision
                )))
            }
        }
        (WriteMode::Ingest, Some(current)) if current.revision > write.revision => {
            Plan::LookUpEarlier
        }
        (WriteMode::Ingest, Some(_)) => Plan::Replace,
        (WriteMode::Amend { .. }, None) => Plan::Refuse(StoreError::NotFound(format!(
            "interaction {id} is not stored"
        ))),
        (WriteMode::Amend { expected_revision }, Some(current)) => {
            let expected_revision = *expected_revision;
            if current.revision == expected_revision {
                if redacted_since(write, current) {
                    return Plan::Refuse(StoreError::Aborted(format!(
                        "the data of interaction {id} was erased or purged while it was amended; retry the amendment"
                    )));
                }
                return Plan::Replace;
            }
            let retried = current.revision == expected_revision + 1
                && current.amendment_hash.is_some()
                && current.amendment_hash.as_deref()
                    == write.amendment_hash.as_ref().map(<[u8; 32]>::as_slice);
            if retried {
                return Plan::Unchanged;
            }
            Plan::Refuse(StoreError::FailedPrecondition(format!(
                "interaction {id} is at revision {}, not {expected_revision}: amend the latest revision",
                current.revision
            )))
        }
        (WriteMode::Rescore, Some(current))
            if current.revision == write.revision
                && current.content_hash == write.content_hash
                && !redacted_since(write, current) =>
        {
            Plan::Rescore
        }
        (WriteMode::Rescore, _) => Plan::Skip,
    }
}

/// Decides an ingest of a revision older than the stored one, given that earlier revision's
/// content hash and scorecard if it was stored.
pub fn plan_earlier(
    write: &ScorecardWrite,
    stored_revision: i64,
    earlier: Option<(Vec<u8>, Vec<u8>)>,
) -> Result<WriteResult, StoreError> {
    let id = &write.interaction_id;
    match earlier {
        Some((hash, scorecard)) if hash == write.content_hash => unchanged(&scorecard),
        Some(_) => Err(StoreError::AlreadyExists(format!(
            "revision {} of interaction {id} was stored earlier with different content (the stored revision is now {stored_revision})",
            write.revision
        ))),
        None => Err(StoreError::FailedPrecondition(format!(
            "revision {} of interaction {id} is older than the stored revision {stored_revision}",
            write.revision
        ))),
    }
}

/// The answer to a write that changed nothing: the stored scorecard.
pub fn unchanged(scorecard: &[u8]) -> Result<WriteResult, StoreError> {
    Ok(WriteResult {
        outcome: WriteOutcome::Unchanged,
        scorecard: pb::Scorecard::decode(scorecard)?,
        touched: Vec::new(),
    })
}

/// The answer to a re-score that found nothing to do.
pub fn skipped() -> WriteResult {
    WriteResult {
        outcome: WriteOutcome::Skipped,
        scorecard: pb::Scorecard::default(),
        touched: Vec::new(),
    }
}

/// What replacing `old` (if any) with `new` changes in the staff days: the new contribution
/// minus the old one, without the days where nothing changed.
pub fn rollup_deltas(
    old: Option<&pb::Scorecard>,
    new: &pb::Scorecard,
) -> BTreeMap<RollupKey, DaySums> {
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
    if let Some(old) = old {
        add(Contribution::of(old), true);
    }
    add(Contribution::of(new), false);
    deltas.retain(|_, sums| !sums.is_zero());
    deltas
}

/// The staff-day deltas summed per team day.
pub fn team_deltas(deltas: &BTreeMap<RollupKey, DaySums>) -> BTreeMap<(&str, Date), DaySums> {
    let mut teams: BTreeMap<(&str, Date), DaySums> = BTreeMap::new();
    for (key, sums) in deltas {
        *teams
            .entry((key.team_id.as_str(), key.local_date))
            .or_default() += *sums;
    }
    teams
}
