//! The result of scoring one revision of one interaction: per-dimension scores, composite,
//! grade, satisfaction, and a finding with evidence for every deduction and SLA breach.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

use super::interaction::{Channel, InteractionKind, Survey, Tier};
use super::points::{Points, Weight};

/// A scoring dimension (satisfaction only carries findings without points).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// 礼貌.
    Politeness,
    /// 响应速度.
    Speed,
    /// 跟进落实.
    FollowThrough,
    /// SERVQUAL gap, beside the composite.
    Satisfaction,
}

/// The grade of a scorecard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grade {
    /// A critical finding.
    Fail,
    /// Under the pass threshold.
    Below,
    /// At or above the pass threshold.
    Meets,
    /// At or above the excellent threshold.
    Excellent,
    /// No dimension applies.
    Ungraded,
}

/// Whether a scorecard can still change as time passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScorecardStatus {
    /// Items are pending.
    Provisional,
    /// Nothing pending.
    Final,
}

/// The speed metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpeedMetric {
    /// First reply time.
    FirstReply,
    /// Worst next reply time.
    NextReply,
    /// Longest gap between staff turns while unresolved.
    PeriodicUpdate,
    /// Resolution time less time pending on the customer.
    Resolution,
}

impl SpeedMetric {
    /// The built-in rule id of the metric's findings.
    pub fn rule_id(self) -> &'static str {
        match self {
            Self::FirstReply => "speed.first_reply",
            Self::NextReply => "speed.next_reply",
            Self::PeriodicUpdate => "speed.periodic_update",
            Self::Resolution => "speed.resolution",
        }
    }

    /// A readable name.
    pub fn label(self) -> &'static str {
        match self {
            Self::FirstReply => "first reply time",
            Self::NextReply => "next reply time",
            Self::PeriodicUpdate => "longest gap between updates",
            Self::Resolution => "resolution time",
        }
    }
}

/// One dimension's result.
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionScore {
    /// The score; `None` when the dimension does not apply.
    pub score: Option<Points>,
    /// Its weight in the composite.
    pub weight: Weight,
    /// Why it does not apply.
    pub not_applicable_reason: &'static str,
}

/// What a finding rests on.
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    /// A phrase matched in a turn.
    Text {
        /// Index into the turns.
        turn_index: usize,
        /// Start, in characters of the original text.
        start: usize,
        /// End (exclusive), in characters.
        end: usize,
        /// The matched text.
        snippet: String,
        /// The phrase set.
        phrase_set_id: String,
        /// The phrase of the standard.
        phrase: String,
    },
    /// A window of turns searched without a match.
    Turns {
        /// The turns searched.
        turn_indexes: Vec<usize>,
        /// The phrase set required.
        phrase_set_id: String,
    },
    /// A measured metric.
    Metric {
        /// The metric.
        metric: SpeedMetric,
        /// The value.
        value: SignedDuration,
        /// The target.
        target: SignedDuration,
        /// The limit.
        limit: SignedDuration,
        /// The sub-score.
        sub_score: Points,
        /// Where the measurement starts (`None`: `opened_at`).
        from_turn: Option<usize>,
        /// Where it ends (`None`: a status change).
        to_turn: Option<usize>,
    },
    /// A commitment and its credit.
    Commitment {
        /// The commitment id.
        commitment_id: String,
        /// Due.
        due_at: Timestamp,
        /// Kept.
        fulfilled_at: Option<Timestamp>,
        /// Lateness (working time).
        lateness: SignedDuration,
        /// The credit.
        credit: Points,
    },
    /// An event at a point in time.
    Event {
        /// When (if known).
        at: Option<Timestamp>,
        /// The turn involved.
        turn_index: Option<usize>,
        /// What happened.
        detail: String,
    },
}

/// A deduction, an SLA breach or a noteworthy fact.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Rule id (of the standard, or built in).
    pub rule_id: String,
    /// Dimension.
    pub dimension: Dimension,
    /// Points deducted.
    pub points: Points,
    /// Fails the scorecard.
    pub critical: bool,
    /// A speed metric over target.
    pub sla_breach: bool,
    /// Explanation.
    pub message: String,
    /// Evidence.
    pub evidence: Evidence,
}

/// The measured speed metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpeedMeasurements {
    /// First reply time.
    pub first_reply: Option<SignedDuration>,
    /// Worst next reply time.
    pub next_reply: Option<SignedDuration>,
    /// Longest gap between staff turns while unresolved.
    pub periodic_update: Option<SignedDuration>,
    /// Resolution time less pending-customer time.
    pub resolution: Option<SignedDuration>,
}

/// The satisfaction level of a SERVQUAL gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SatisfactionLevel {
    /// gap > 0.
    Satisfied,
    /// gap = 0.
    Basic,
    /// gap < 0.
    Unsatisfied,
}

/// SERVQUAL satisfaction of a surveyed interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Satisfaction {
    /// The survey.
    pub survey: Survey,
    /// The level.
    pub level: SatisfactionLevel,
    /// The tier requires exceeding expectations and the gap is not positive.
    pub expectation_not_exceeded: bool,
}

/// What can keep a scorecard provisional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PendingKind {
    /// A commitment not yet due.
    Commitment,
    /// An unanswered run younger than the next-reply limit.
    Unanswered,
    /// A complaint's callback window still open.
    ComplaintCallback,
    /// An unresolved complaint.
    ComplaintOpen,
}

/// An item not yet decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingItem {
    /// What.
    pub kind: PendingKind,
    /// The commitment id or turn index.
    pub reference: String,
    /// When it falls due (`None`: waits on an event).
    pub due: Option<Timestamp>,
}

/// Kinds of items on the daily clearing sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DueItemKind {
    /// A commitment.
    Commitment,
    /// The interaction's resolution deadline.
    Resolution,
}

/// An item on the daily clearing sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueItem {
    /// What.
    pub kind: DueItemKind,
    /// The commitment id (empty for the resolution).
    pub reference: String,
    /// The deadline.
    pub deadline: Timestamp,
    /// The local date of the deadline.
    pub local_date: Date,
    /// When done.
    pub done_at: Option<Timestamp>,
    /// The local date it was done.
    pub done_local_date: Option<Date>,
    /// Done by the deadline.
    pub cleared: bool,
}

/// A scorecard.
#[derive(Debug, Clone, PartialEq)]
pub struct Scorecard {
    /// Interaction.
    pub interaction_id: String,
    /// Revision.
    pub revision: i64,
    /// Owner.
    pub staff_id: String,
    /// Team at ingest.
    pub team_id: String,
    /// Local date of `opened_at` in the team's zone.
    pub local_date: Date,
    /// Tier.
    pub tier: Tier,
    /// Channel.
    pub channel: Channel,
    /// Kind.
    pub kind: InteractionKind,
    /// Standard id.
    pub standard_id: String,
    /// Standard version.
    pub standard_version: i64,
    /// Cell id.
    pub cell_id: String,
    /// Evaluation time.
    pub evaluation_time: Timestamp,
    /// Status.
    pub status: ScorecardStatus,
    /// Politeness.
    pub politeness: DimensionScore,
    /// Speed.
    pub speed: DimensionScore,
    /// Follow-through.
    pub follow_through: DimensionScore,
    /// Composite (`None`: no dimension applies).
    pub composite: Option<Points>,
    /// Grade.
    pub grade: Grade,
    /// Satisfaction, when surveyed.
    pub satisfaction: Option<Satisfaction>,
    /// Findings, in dimension order.
    pub findings: Vec<Finding>,
    /// Measured metrics.
    pub speed_metrics: SpeedMeasurements,
    /// Pending items.
    pub pending: Vec<PendingItem>,
    /// Earliest due time of a pending item.
    pub next_due: Option<Timestamp>,
    /// Metrics over target.
    pub sla_breaches: u32,
    /// Items on the daily clearing sheet.
    pub due_items: Vec<DueItem>,
}
