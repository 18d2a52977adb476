//! The scoring core: a pure, deterministic function of (interaction, standard, working time,
//! time zone, evaluation time) to a scorecard. It never reads the clock or the database.

pub mod conversation;
pub mod follow_through;
pub mod matcher;
pub mod politeness;
pub mod speed;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use self::conversation::Conversation;
use self::matcher::{PhraseMatch, PhraseMatcher};
pub use self::politeness::PolitenessResult;
use crate::domain::calendar::WorkingTime;
use crate::domain::interaction::{Interaction, Status};
use crate::domain::points::{Points, weighted_mean};
use crate::domain::scorecard::{
    Dimension, DimensionScore, DueItem, DueItemKind, Evidence, Finding, Grade, Satisfaction,
    SatisfactionLevel, Scorecard, ScorecardStatus,
};
use crate::domain::standard::{CellRules, Standard};

/// A standard with its phrase automaton, built once per standard version and shared.
pub struct CompiledStandard {
    /// The standard.
    pub standard: Standard,
    /// Every phrase of the standard.
    pub matcher: PhraseMatcher,
}

impl CompiledStandard {
    /// Builds the automaton of a validated standard.
    pub fn new(standard: Standard) -> Self {
        let matcher = PhraseMatcher::new(&standard.phrase_sets);
        Self { standard, matcher }
    }
}

/// Everything the scoring of one interaction depends on besides the interaction.
pub struct ScoringContext<'a> {
    /// The standard.
    pub standard: &'a CompiledStandard,
    /// Wall-clock or business-hours elapsed time.
    pub working_time: &'a WorkingTime,
    /// The team's time zone (local dates).
    pub time_zone: &'a TimeZone,
    /// The team the interaction counts for.
    pub team_id: &'a str,
    /// The evaluation time.
    pub evaluation_time: Timestamp,
}

/// What the dimensions read, computed once.
pub struct Facts<'a> {
    interaction: &'a Interaction,
    standard: &'a Standard,
    rules: &'a CellRules,
    working_time: &'a WorkingTime,
    evaluation_time: Timestamp,
    conversation: Conversation,
    status_intervals: Vec<(Status, Timestamp, Option<Timestamp>)>,
    resolved: bool,
    /// Phrase matches per turn (empty for turns without text, or when no rule needs text).
    matches: Vec<Vec<PhraseMatch>>,
}

impl Facts<'_> {
    /// Intervals the resolution clock runs in: not pending on the customer, and not resolved
    /// before a reopening. With `through_final_resolution`, the clock keeps running after the
    /// final resolution (to project the deadline); otherwise it stops there.
    fn resolution_clock_intervals(
        &self,
        through_final_resolution: bool,
    ) -> Vec<(Timestamp, Option<Timestamp>)> {
        self.status_intervals
            .iter()
            .filter(|(status, _, until)| match status {
                Status::PendingCustomer => false,
                Status::Resolved => through_final_resolution && until.is_none(),
                _ => true,
            })
            .map(|&(_, from, until)| (from, until))
            .collect()
    }
}

/// Scores an interaction.
pub fn score(interaction: &Interaction, context: &ScoringContext<'_>) -> Scorecard {
    score_with(interaction, context, None)
}

/// Re-scores an interaction whose turn text is no longer kept (dropped after scoring, purged
/// or erased): speed and follow-through are computed from the structure as usual, while the
/// politeness dimension — which only the text can decide — is `carried` over from the
/// previous scorecard (its score, or why it did not apply, and its findings, with whatever
/// evidence snippets are left). Scoring the text-less turns instead would find no staff text
/// and turn politeness N/A, changing the composite for no reason; a critical finding carried
/// over still fails the scorecard. The politeness weight is the cell's, as for any scoring.
pub fn score_carrying_politeness(
    interaction: &Interaction,
    context: &ScoringContext<'_>,
    carried: PolitenessResult,
) -> Scorecard {
    score_with(interaction, context, Some(carried))
}

fn score_with(
    interaction: &Interaction,
    context: &ScoringContext<'_>,
    carried_politeness: Option<PolitenessResult>,
) -> Scorecard {
    let standard = &context.standard.standard;
    let cell = standard.cell(interaction.tier, interaction.channel);
    let rules = &cell.rules;
    let matches = if rules.politeness.is_empty() || carried_politeness.is_some() {
        vec![Vec::new(); interaction.turns.len()]
    } else {
        interaction
            .turns
            .iter()
            .map(|turn| context.standard.matcher.find_all(&turn.text))
            .collect()
    };
    let facts = Facts {
        interaction,
        standard,
        rules,
        working_time: context.working_time,
        evaluation_time: context.evaluation_time,
        conversation: Conversation::of(interaction),
        status_intervals: interaction.status_intervals(),
        resolved: interaction.current_status() == Status::Resolved,
        matches,
    };

    let politeness = carried_politeness.unwrap_or_else(|| politeness::score(&facts));
    let speed = speed::score(&facts);
    let follow_through = follow_through::score(&facts);

    let weights = rules.weights;
    let dimension = |score: Option<Points>, weight, reason: &'static str| DimensionScore {
        score,
        weight,
        not_applicable_reason: if score.is_some() { "" } else { reason },
    };
    let politeness_score = dimension(
        politeness.score,
        weights.politeness,
        politeness.not_applicable_reason,
    );
    let speed_score = dimension(
        speed.score,
        weights.speed,
        "no speed metric of the standard could be measured",
    );
    let follow_through_score = dimension(
        follow_through.score,
        weights.follow_through,
        follow_through.not_applicable_reason,
    );

    let mut findings: Vec<Finding> = politeness.findings;
    findings.extend(speed.findings);
    findings.extend(follow_through.findings);

    let critical = findings.iter().any(|finding| finding.critical);
    let composite = weighted_mean(
        [&politeness_score, &speed_score, &follow_through_score]
            .into_iter()
            .filter_map(|dimension| Some((dimension.weight, dimension.score?))),
    )
    .map(|composite| if critical { Points::ZERO } else { composite });
    let grade = match composite {
        _ if critical => Grade::Fail,
        None => Grade::Ungraded,
        Some(composite) if composite >= rules.thresholds.excellent => Grade::Excellent,
        Some(composite) if composite >= rules.thresholds.pass => Grade::Meets,
        Some(_) => Grade::Below,
    };

    let satisfaction = interaction.survey.map(|survey| {
        let gap = survey.gap();
        let level = match gap {
            gap if gap > 0 => SatisfactionLevel::Satisfied,
            0 => SatisfactionLevel::Basic,
            _ => SatisfactionLevel::Unsatisfied,
        };
        Satisfaction {
            survey,
            level,
            expectation_not_exceeded: rules.service_levels.exceed_expectations && gap <= 0,
        }
    });
    if let Some(satisfaction) =
        satisfaction.filter(|satisfaction| satisfaction.expectation_not_exceeded)
    {
        findings.push(Finding {
            rule_id: "satisfaction.expectation_not_exceeded".to_owned(),
            dimension: Dimension::Satisfaction,
            points: Points::ZERO,
            critical: false,
            sla_breach: false,
            message: format!(
                "the tier requires exceeding expectations (超常服务) but perception {} did not exceed expectation {}",
                satisfaction.survey.perception, satisfaction.survey.expectation
            ),
            evidence: Evidence::Event {
                at: None,
                turn_index: None,
                detail: format!("gap {}", satisfaction.survey.gap()),
            },
        });
    }

    let pending = follow_through.pending;
    let next_due = pending.iter().filter_map(|item| item.due).min();
    let local_date =
        |instant: Timestamp| -> Date { instant.to_zoned(context.time_zone.clone()).date() };
    let due_items = due_items(&facts, &local_date);

    Scorecard {
        interaction_id: interaction.interaction_id.clone(),
        revision: interaction.revision,
        staff_id: interaction.staff_id.clone(),
        team_id: context.team_id.to_owned(),
        local_date: local_date(interaction.opened_at),
        tier: interaction.tier,
        channel: interaction.channel,
        kind: interaction.kind,
        standard_id: standard.standard_id.clone(),
        standard_version: standard.version,
        cell_id: cell.id.clone(),
        evaluation_time: context.evaluation_time,
        status: if pending.is_empty() {
            ScorecardStatus::Final
        } else {
            ScorecardStatus::Provisional
        },
        politeness: politeness_score,
        speed: speed_score,
        follow_through: follow_through_score,
        composite,
        grade,
        satisfaction,
        findings,
        speed_metrics: speed.measurements,
        pending,
        next_due,
        sla_breaches: speed.breaches,
        due_items,
    }
}

/// The items this interaction puts on the daily clearing sheet: each commitment on the date it
/// is due, and the resolution on the date of its deadline (when the cell has a resolution
/// target and the clock is not paused for good).
fn due_items(facts: &Facts<'_>, local_date: &impl Fn(Timestamp) -> Date) -> Vec<DueItem> {
    let mut items: Vec<DueItem> = facts
        .interaction
        .commitments
        .iter()
        .map(|commitment| DueItem {
            kind: DueItemKind::Commitment,
            reference: commitment.id.clone(),
            deadline: commitment.due_at,
            local_date: local_date(commitment.due_at),
            done_at: commitment.fulfilled_at,
            done_local_date: commitment.fulfilled_at.map(local_date),
            cleared: commitment
                .fulfilled_at
                .is_some_and(|done| done <= commitment.due_at),
        })
        .collect();
    if let Some(target) = facts.rules.speed.resolution {
        let deadline = facts
            .working_time
            .deadline_over(&facts.resolution_clock_intervals(true), target.target);
        if let Some(deadline) = deadline {
            let done_at = facts.interaction.resolved_at();
            items.push(DueItem {
                kind: DueItemKind::Resolution,
                reference: String::new(),
                deadline,
                local_date: local_date(deadline),
                done_at,
                done_local_date: done_at.map(local_date),
                cleared: done_at.is_some_and(|done| done <= deadline),
            });
        }
    }
    items
}
