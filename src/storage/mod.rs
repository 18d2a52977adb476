//! Storage: one trait ([`Store`]), one module per backend (embedded SQLite, shared
//! PostgreSQL), one shared test suite (`tests/storage.rs`). SQL lives with its backend;
//! migrations are numbered files beside it.
//!
//! A scorecard write is one transaction: the interaction and its scorecard are stored, the
//! contribution of the replaced scorecard (if any) is subtracted from the daily sums and the
//! new one added, and the touched days are appended to the change feed. An acknowledged
//! write is durable.

pub mod plan;
pub mod postgres;
pub mod redact;
pub mod sql;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;

use crate::proto::v1 as pb;
use crate::rollup::sums::DaySums;

/// What can go wrong in storage, mapped to gRPC codes in one place (`api::status`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A create or ingest collides with what is stored.
    #[error("{0}")]
    AlreadyExists(String),
    /// The request is valid but the stored state does not allow it.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A concurrent change got there first; retrying may succeed.
    #[error("{0}")]
    Aborted(String),
    /// The database cannot be reached or is busy beyond its timeout.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a corrupt database. The message goes to the log only.
    #[error("storage failure: {0}")]
    Internal(String),
}

/// How a scorecard write relates to what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteMode {
    /// ScoreInteraction and bulk ingest: idempotent on (interaction id, revision) and content.
    Ingest,
    /// An amendment made on top of `expected_revision`; the write is revision + 1.
    Amend {
        /// The revision the amendment was applied to.
        expected_revision: i64,
    },
    /// A time-driven re-score of the stored revision with the same content.
    Rescore,
}

/// What a stored interaction body still holds (data minimisation, see `redact`). The order
/// matters: a body only ever moves to a later state, until a new revision replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BodyState {
    /// Everything the caller sent.
    Complete,
    /// The turn text (and the free text of commitments and the complaint loop) was dropped
    /// after scoring (`privacy.keep_transcripts = false`); the structure (speakers, times,
    /// staff ids, commitments, statuses) and the customer id stay.
    TranscriptDropped,
    /// The free text and the customer id were removed (retention purge or
    /// EraseCustomerData); the structure stays.
    Redacted,
}

impl BodyState {
    /// Whether the body's turn text is gone, so that a re-score cannot recompute politeness
    /// and carries it over from the previous scorecard instead.
    pub fn transcript_gone(self) -> bool {
        self != Self::Complete
    }

    /// The stored code of the state.
    pub fn code(self) -> i64 {
        match self {
            Self::Complete => 0,
            Self::TranscriptDropped => 1,
            Self::Redacted => 2,
        }
    }

    /// The state of a stored code (unknown codes are treated as the most redacted state).
    pub fn from_code(code: i64) -> Self {
        match code {
            0 => Self::Complete,
            1 => Self::TranscriptDropped,
            _ => Self::Redacted,
        }
    }
}

/// One interaction revision and its scorecard, to store.
#[derive(Debug, Clone)]
pub struct ScorecardWrite {
    /// The interaction id.
    pub interaction_id: String,
    /// The revision.
    pub revision: i64,
    /// BLAKE3 of the encoded interaction: equal content, equal hash.
    pub content_hash: [u8; 32],
    /// For amendments: BLAKE3 of the amendment request, so a retry is recognised.
    pub amendment_hash: Option<[u8; 32]>,
    /// The customer id (for erasure).
    pub customer_id: String,
    /// The encoded `pb::Interaction` as it is to be kept (text already removed when
    /// `body_state` says so); `content_hash` is of the content as sent.
    pub body: Vec<u8>,
    /// What `body` still holds.
    pub body_state: BodyState,
    /// For amendments and re-scores: the state of the stored body the write was made from.
    /// The write is refused when the stored body has been redacted since (an erasure or a
    /// purge in between must not be undone by writing the older body back).
    pub based_on: Option<BodyState>,
    /// When the interaction was opened (retention counts from it).
    pub opened_at: Timestamp,
    /// The scorecard (`store_time` is set by the store).
    pub scorecard: pb::Scorecard,
    /// The earliest pending due time, for time-driven re-scoring.
    pub next_due: Option<Timestamp>,
    /// How the write relates to the stored state.
    pub mode: WriteMode,
    /// When the write is made.
    pub now: Timestamp,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// A new interaction.
    Created,
    /// A higher revision (or a re-score) replaced the stored one.
    Replaced,
    /// The same revision and content were stored already; nothing changed.
    Unchanged,
    /// A re-score found the stored revision changed meanwhile; nothing written.
    Skipped,
}

/// The result of a write: the scorecard as stored (or as found, for `Unchanged`) and the
/// rollup days it touched.
#[derive(Debug, Clone)]
pub struct WriteResult {
    /// What happened.
    pub outcome: WriteOutcome,
    /// The stored scorecard.
    pub scorecard: pb::Scorecard,
    /// (team, staff, date) whose sums changed.
    pub touched: Vec<RollupKey>,
}

/// One staff member's day in one team.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    /// Team.
    pub team_id: String,
    /// Staff member.
    pub staff_id: String,
    /// Local date.
    pub local_date: Date,
}

impl RollupKey {
    /// The staff days a clearing sheet of `local_date` covers: what closing the day changes.
    pub fn closed_by(close: &pb::DayClose, local_date: Date) -> Vec<Self> {
        close
            .staff_rollups
            .iter()
            .map(|rollup| Self {
                team_id: close.team_id.clone(),
                staff_id: rollup.staff_id.clone(),
                local_date,
            })
            .collect()
    }
}

/// A stored interaction revision.
#[derive(Debug, Clone)]
pub struct StoredInteraction {
    /// The revision.
    pub revision: i64,
    /// Its content hash.
    pub content_hash: [u8; 32],
    /// The hash of the amendment request that made it, if an amendment did.
    pub amendment_hash: Option<[u8; 32]>,
    /// The encoded `pb::Interaction` (`None` if a backend no longer has it at all).
    pub body: Option<Vec<u8>>,
    /// What the body still holds.
    pub body_state: BodyState,
    /// Its scorecard.
    pub scorecard: pb::Scorecard,
}

/// Filters of a scorecard listing (AND; unset matches everything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScorecardFilter {
    /// Staff member.
    pub staff_id: Option<String>,
    /// Team.
    pub team_id: Option<String>,
    /// First local date.
    pub from_date: Option<Date>,
    /// Last local date.
    pub to_date: Option<Date>,
    /// Grades (`pb::Grade` values).
    pub grades: Vec<i32>,
    /// Tier (`pb::Tier` value).
    pub tier: Option<i32>,
    /// Channel (`pb::Channel` value).
    pub channel: Option<i32>,
    /// Status (`pb::ScorecardStatus` value).
    pub status: Option<i32>,
}

/// Position after the last scorecard of a page: (local date, interaction id), in listing
/// order (date descending, id ascending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScorecardCursor {
    /// Local date of the last item.
    pub local_date: Date,
    /// Interaction id of the last item.
    pub interaction_id: String,
}

/// A stored scorecard due for a time-driven re-score.
#[derive(Debug, Clone)]
pub struct DueRescore {
    /// The interaction.
    pub interaction_id: String,
    /// Its stored revision.
    pub revision: i64,
}

/// Whose daily sums a read covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayScope<'a> {
    /// The team's own sums (every staff member of the team together).
    Team(&'a str),
    /// One staff member of a team.
    Staff {
        /// The team.
        team_id: &'a str,
        /// The staff member.
        staff_id: &'a str,
    },
    /// Every staff member of a team, each on their own.
    EveryStaff(&'a str),
}

/// The stored sums of one day: of a staff member in a team, or of a whole team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRow {
    /// Team.
    pub team_id: String,
    /// Staff member; empty for a team row.
    pub staff_id: String,
    /// Local date.
    pub local_date: Date,
    /// The additive sums.
    pub sums: DaySums,
    /// Changes to this day after its close.
    pub changes_after_close: i64,
    /// When the team's day was closed, if it was.
    pub close_time: Option<Timestamp>,
}

/// What a rollup read needs of one scope, read from one snapshot so that its parts agree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayView {
    /// Day rows from `from` through `to`, by date then staff id.
    pub rows: Vec<DayRow>,
    /// Items carried into `from`: the carry-over deltas before it summed by staff id (empty
    /// for the team).
    pub carried_in: Vec<(String, i64)>,
    /// The latest scored days before `from`, newest first (as [`Store::scored_days`]).
    pub history: Vec<(Date, DaySums)>,
}

/// What storing a day close did.
#[derive(Debug, Clone, PartialEq)]
pub enum CloseOutcome {
    /// The clearing sheet was stored.
    Closed(pb::DayClose),
    /// The day was closed already; this is the stored sheet.
    AlreadyClosed(pb::DayClose),
    /// A rollup the sheet depends on changed since it was read; read again and retry.
    Changed,
}

/// A write made through any process sharing the database, as announced to every process
/// (PostgreSQL LISTEN/NOTIFY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Rollup days changed: read the change feed from where you left it.
    Rollups,
    /// A standard or a team changed: forget cached standards and teams.
    Catalog,
    /// Notices may have been missed (the listening connection was re-established): read the
    /// change feed and forget the caches.
    Resync,
}

/// Work handed to [`Store::exclusively`].
pub type Job<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The storage interface, implemented by every backend.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores `standard` as given (version included) unless that id and version exist.
    async fn insert_standard_if_absent(&self, standard: pb::Standard) -> Result<(), StoreError>;
    /// Stores a new version of a standard (the next number for its id).
    async fn create_standard(
        &self,
        standard: pb::Standard,
        now: Timestamp,
    ) -> Result<pb::Standard, StoreError>;
    /// One version of a standard; version 0 is the latest.
    async fn get_standard(
        &self,
        standard_id: &str,
        version: i64,
    ) -> Result<Option<pb::Standard>, StoreError>;
    /// Standards by (id, version) after `after`: every version of `standard_id`, or the latest
    /// version of each id.
    async fn list_standards(
        &self,
        standard_id: Option<&str>,
        after: Option<(String, i64)>,
        limit: usize,
    ) -> Result<Vec<pb::Standard>, StoreError>;

    /// Creates a team; its members must be in no other team.
    async fn create_team(&self, team: pb::Team, now: Timestamp) -> Result<pb::Team, StoreError>;
    /// Replaces a stored team (members too).
    async fn update_team(&self, team: pb::Team, now: Timestamp) -> Result<pb::Team, StoreError>;
    /// A team.
    async fn get_team(&self, team_id: &str) -> Result<Option<pb::Team>, StoreError>;
    /// Teams by id after `after`.
    async fn list_teams(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<pb::Team>, StoreError>;
    /// The team a staff member belongs to.
    async fn team_of(&self, staff_id: &str) -> Result<Option<String>, StoreError>;

    /// Stores a scorecard write atomically with its rollup contribution.
    async fn write_scorecard(&self, write: ScorecardWrite) -> Result<WriteResult, StoreError>;
    /// The stored interaction (latest revision).
    async fn get_interaction(
        &self,
        interaction_id: &str,
    ) -> Result<Option<StoredInteraction>, StoreError>;
    /// A stored scorecard: the latest revision (0) or an earlier one.
    async fn get_scorecard(
        &self,
        interaction_id: &str,
        revision: i64,
    ) -> Result<Option<pb::Scorecard>, StoreError>;
    /// Scorecards (latest revisions) matching `filter`, after `after`, in listing order.
    async fn list_scorecards(
        &self,
        filter: &ScorecardFilter,
        after: Option<&ScorecardCursor>,
        limit: usize,
    ) -> Result<Vec<pb::Scorecard>, StoreError>;
    /// Stored scorecards with a pending item due at or before `now`.
    async fn due_for_rescore(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<DueRescore>, StoreError>;

    /// The latest days of `scope` on or before `on_or_before` with scored interactions,
    /// newest first, at most `limit` (`scope` is a team or one staff member).
    async fn scored_days(
        &self,
        scope: DayScope<'_>,
        on_or_before: Date,
        limit: usize,
    ) -> Result<Vec<(Date, DaySums)>, StoreError>;
    /// Rows, carry-in and up to `history` earlier scored days of `scope` for a read of
    /// `from` through `to` (the statements of [`sql::day_view`]), from one snapshot.
    async fn day_view(
        &self,
        scope: DayScope<'_>,
        from: Date,
        to: Date,
        history: usize,
    ) -> Result<DayView, StoreError>;
    /// Every stored day row of every team (staff rows and team rows), for verification.
    async fn all_day_rows(&self) -> Result<Vec<DayRow>, StoreError>;
    /// The sequence number of the latest rollup change.
    async fn change_seq(&self) -> Result<i64, StoreError>;
    /// Rollup changes after `after`, oldest first, at most `limit`, with their sequence
    /// numbers.
    async fn changes_since(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, RollupKey)>, StoreError>;

    /// The clearing sheet of a closed day.
    async fn day_close(
        &self,
        team_id: &str,
        local_date: Date,
    ) -> Result<Option<pb::DayClose>, StoreError>;
    /// Stores a clearing sheet, unless the day is closed already or a rollup of the team on or
    /// before its date changed after change `read_at` (the sequence the sheet was read at).
    async fn close_day(
        &self,
        close: pb::DayClose,
        read_at: i64,
    ) -> Result<CloseOutcome, StoreError>;
    /// Dates of `team_id` on or before `up_to` that have sums but no close, oldest first.
    async fn unclosed_days(
        &self,
        team_id: &str,
        up_to: Date,
        limit: usize,
    ) -> Result<Vec<Date>, StoreError>;

    /// Redacts (see [`redact::redact_interaction`]) the bodies of at most `limit` interactions
    /// opened before `opened_before` that are not redacted yet, and returns how many. Scorecards
    /// and daily sums are left as they are. Once it returns, the removed data is gone from the
    /// backend's files as far as the backend can make sure of it.
    async fn purge_bodies(
        &self,
        opened_before: Timestamp,
        limit: usize,
    ) -> Result<usize, StoreError>;
    /// Erases a customer's data: for every interaction whose customer id is `customer_id`,
    /// redacts the body and blanks the evidence snippets of every revision's scorecard, in one
    /// transaction; scores (and so the daily sums) are unchanged. Returns how many interactions.
    /// Once it returns, the erased data is gone from the backend's files as far as the backend
    /// can make sure of it.
    async fn erase_customer(&self, customer_id: &str) -> Result<u64, StoreError>;

    /// Notices of writes made by every process sharing the database, `None` when this process
    /// is the only writer (its own services then announce their writes themselves).
    fn notices(&self) -> Option<tokio::sync::broadcast::Receiver<Notice>> {
        None
    }

    /// Runs `job` unless another process sharing the database is running the job named
    /// `name`; returns whether it ran. If the process dies during the job, the claim ends with
    /// its connection.
    async fn exclusively(&self, name: &'static str, job: Job<'_>) -> Result<bool, StoreError> {
        let _ = name;
        job.await;
        Ok(true)
    }

    /// Every stored scorecard, for recomputing rollups (ordered by interaction id, after
    /// `after`).
    async fn scan_scorecards(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<pb::Scorecard>, StoreError>;
}
