//! Service standards as the scoring core sees them: validated, with each cell's effective rules
//! (base sections laid under the cell's own), and a lookup from tier × channel to its cell.

use jiff::{SignedDuration, Timestamp};

use super::interaction::{Channel, Tier};
use super::points::{Points, Weight};

/// A validated standard version.
#[derive(Debug, Clone, PartialEq)]
pub struct Standard {
    /// Id.
    pub standard_id: String,
    /// Version (0 for an inline standard that was never stored).
    pub version: i64,
    /// Phrase sets; rules refer to them by index.
    pub phrase_sets: Vec<PhraseSet>,
    /// Cells with their effective rules.
    pub cells: Vec<Cell>,
    /// `cell_index[tier][channel]`: the cell covering each pair.
    pub cell_index: [[usize; Channel::ALL.len()]; Tier::ALL.len()],
    /// When the version was created.
    pub create_time: Option<Timestamp>,
}

impl Standard {
    /// The cell that applies to a tier and channel.
    pub fn cell(&self, tier: Tier, channel: Channel) -> &Cell {
        &self.cells[self.cell_index[tier as usize][channel as usize]]
    }
}

/// A named set of phrases.
#[derive(Debug, Clone, PartialEq)]
pub struct PhraseSet {
    /// Id.
    pub id: String,
    /// Phrases.
    pub phrases: Vec<Phrase>,
}

/// One phrase.
#[derive(Debug, Clone, PartialEq)]
pub struct Phrase {
    /// The phrase as written in the standard.
    pub text: String,
    /// For forbid rules: a hit fails the scorecard.
    pub critical: bool,
    /// For forbid rules: points per hit, overriding the rule's.
    pub points: Option<Points>,
}

/// One cell of the tier × channel matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Id.
    pub id: String,
    /// Effective rules.
    pub rules: CellRules,
}

/// The effective rules of a cell.
#[derive(Debug, Clone, PartialEq)]
pub struct CellRules {
    /// Service levels of the tier matrix.
    pub service_levels: ServiceLevels,
    /// Speed metrics.
    pub speed: SpeedRules,
    /// Politeness rules.
    pub politeness: PolitenessRules,
    /// Follow-through rules.
    pub follow_through: FollowThroughRules,
    /// Dimension weights.
    pub weights: DimensionWeights,
    /// Grade thresholds.
    pub thresholds: GradeThresholds,
}

/// Service levels (有问必答, 保持沟通, 专人负责, 超常服务).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceLevels {
    /// 有问必答.
    pub answer_every_question: bool,
    /// 保持沟通.
    pub keep_communicating: bool,
    /// 专人负责.
    pub dedicated_owner: bool,
    /// 超常服务.
    pub exceed_expectations: bool,
}

/// Target, limit and weight of a speed metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricTarget {
    /// Sub-score 100 at or under this.
    pub target: SignedDuration,
    /// Sub-score 0 at or over this; greater than the target.
    pub limit: SignedDuration,
    /// Weight in the speed score.
    pub weight: Weight,
}

/// The speed metrics that apply (unset: does not apply).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpeedRules {
    /// First reply time.
    pub first_reply: Option<MetricTarget>,
    /// Next reply time.
    pub next_reply: Option<MetricTarget>,
    /// Periodic update (only with 保持沟通).
    pub periodic_update: Option<MetricTarget>,
    /// Resolution time.
    pub resolution: Option<MetricTarget>,
}

/// Which staff turns a require rule searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnWindow {
    /// The first N staff turns with text.
    FirstStaffTurns(u32),
    /// The last N staff turns with text.
    LastStaffTurns(u32),
    /// Any staff turn.
    AnyStaffTurn,
}

/// A phrase set must appear in a window of staff turns.
#[derive(Debug, Clone, PartialEq)]
pub struct RequireRule {
    /// Rule id.
    pub id: String,
    /// Index of the phrase set.
    pub phrase_set: usize,
    /// The window.
    pub window: TurnWindow,
    /// Deduction when missing.
    pub points: Points,
    /// Judge only once resolved.
    pub only_when_resolved: bool,
}

/// A trigger in a customer turn must get a response in the next staff turns.
#[derive(Debug, Clone, PartialEq)]
pub struct RespondRule {
    /// Rule id.
    pub id: String,
    /// Index of the trigger phrase set.
    pub trigger_set: usize,
    /// Index of the response phrase set.
    pub response_set: usize,
    /// How many following staff turns may carry the response.
    pub within_staff_turns: u32,
    /// Deduction per unanswered trigger.
    pub points: Points,
}

/// Phrases staff must never use.
#[derive(Debug, Clone, PartialEq)]
pub struct ForbidRule {
    /// Rule id.
    pub id: String,
    /// Index of the phrase set.
    pub phrase_set: usize,
    /// Deduction per hit, unless the phrase sets its own.
    pub points: Points,
}

/// Politeness rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolitenessRules {
    /// Require rules.
    pub require: Vec<RequireRule>,
    /// Respond rules.
    pub respond: Vec<RespondRule>,
    /// Forbid rules.
    pub forbid: Vec<ForbidRule>,
}

impl PolitenessRules {
    /// Whether there is any rule at all.
    pub fn is_empty(&self) -> bool {
        self.require.is_empty() && self.respond.is_empty() && self.forbid.is_empty()
    }
}

/// Deductions for missing steps of a complaint's closed loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComplaintLoopRule {
    /// No resolution recorded.
    pub resolution_missing_points: Points,
    /// No customer confirmation.
    pub confirmation_missing_points: Points,
    /// No callback within the window.
    pub callback_missing_points: Points,
    /// The callback window after resolution.
    pub callback_window: SignedDuration,
}

/// Follow-through rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowThroughRules {
    /// Lateness at which a late commitment earns nothing (zero: any lateness earns nothing).
    pub commitment_late_limit: SignedDuration,
    /// 有问必答 deduction.
    pub unanswered_points: Points,
    /// Complaint closed loop.
    pub complaint_loop: Option<ComplaintLoopRule>,
    /// 专人负责 deduction per hand-off.
    pub hand_off_points: Points,
    /// Deduction per reopening.
    pub reopen_points: Points,
}

/// Weights of the dimensions in the composite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DimensionWeights {
    /// Politeness.
    pub politeness: Weight,
    /// Speed.
    pub speed: Weight,
    /// Follow-through.
    pub follow_through: Weight,
}

/// Composite thresholds of the grades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradeThresholds {
    /// MEETS at or above.
    pub pass: Points,
    /// EXCELLENT at or above.
    pub excellent: Points,
}
