//! Follow-through (跟进落实): commitment credits, then deductions for an unanswered question
//! (有问必答), the missing steps of a complaint's closed loop, hand-offs for tiers that require a
//! dedicated owner (专人负责), and reopenings. Items not yet decided are pending.

use jiff::{SignedDuration, Timestamp};

use super::Facts;
use crate::domain::interaction::{InteractionKind, Speaker, Status};
use crate::domain::points::{Points, div_round};
use crate::domain::scorecard::{Dimension, Evidence, Finding, PendingItem, PendingKind};

/// The follow-through dimension's result.
pub struct FollowThroughResult {
    /// The score; `None` when the dimension does not apply.
    pub score: Option<Points>,
    /// Why it does not apply.
    pub not_applicable_reason: &'static str,
    /// Deductions.
    pub findings: Vec<Finding>,
    /// Items not yet decided.
    pub pending: Vec<PendingItem>,
}

pub fn score(facts: &Facts<'_>) -> FollowThroughResult {
    let interaction = facts.interaction;
    let is_complaint = interaction.kind == InteractionKind::Complaint;
    if !facts.conversation.has_customer_turn && interaction.commitments.is_empty() && !is_complaint
    {
        return FollowThroughResult {
            score: None,
            not_applicable_reason: "no customer turn, no commitment and not a complaint",
            findings: Vec::new(),
            pending: Vec::new(),
        };
    }
    let mut findings = Vec::new();
    let mut pending = Vec::new();
    let base = commitments(facts, &mut findings, &mut pending);
    if facts.rules.service_levels.answer_every_question {
        unanswered(facts, &mut findings, &mut pending);
    }
    if is_complaint {
        complaint_loop(facts, &mut findings, &mut pending);
    }
    if facts.rules.service_levels.dedicated_owner {
        hand_offs(facts, &mut findings);
    }
    reopenings(facts, &mut findings);
    let deducted: Points = findings
        .iter()
        .filter(|finding| finding.rule_id != COMMITMENT_RULE)
        .map(|finding| finding.points)
        .sum();
    FollowThroughResult {
        score: Some(base.saturating_deduct(deducted)),
        not_applicable_reason: "",
        findings,
        pending,
    }
}

const COMMITMENT_RULE: &str = "follow_through.commitment";

/// The commitment credit base: the mean credit of due commitments, 100 when none is due.
fn commitments(
    facts: &Facts<'_>,
    findings: &mut Vec<Finding>,
    pending: &mut Vec<PendingItem>,
) -> Points {
    let late_limit = facts.rules.follow_through.commitment_late_limit;
    let mut credits = Vec::new();
    for commitment in &facts.interaction.commitments {
        let (credit, lateness) = match commitment.fulfilled_at {
            Some(fulfilled) if fulfilled <= commitment.due_at => {
                (Points::HUNDRED, SignedDuration::ZERO)
            }
            Some(fulfilled) => {
                let lateness = facts.working_time.elapsed(commitment.due_at, fulfilled);
                (late_credit(lateness, late_limit), lateness)
            }
            None if commitment.due_at <= facts.evaluation_time => (
                Points::ZERO,
                facts
                    .working_time
                    .elapsed(commitment.due_at, facts.evaluation_time),
            ),
            None => {
                pending.push(PendingItem {
                    kind: PendingKind::Commitment,
                    reference: commitment.id.clone(),
                    due: Some(commitment.due_at),
                });
                continue;
            }
        };
        credits.push((commitment, credit, lateness));
    }
    if credits.is_empty() {
        return Points::HUNDRED;
    }
    let count = credits.len() as i128;
    let total: i128 = credits
        .iter()
        .map(|(_, credit, _)| i128::from(credit.hundredths()))
        .sum();
    for (commitment, credit, lateness) in credits {
        if credit == Points::HUNDRED {
            continue;
        }
        let effect = div_round(i128::from((Points::HUNDRED - credit).hundredths()), count);
        let message = match commitment.fulfilled_at {
            Some(_) => format!(
                "commitment \"{}\" kept {:#} late: credit {credit}",
                commitment.id,
                SignedDuration::from_secs(lateness.as_secs())
            ),
            None => format!(
                "commitment \"{}\" is overdue and not kept: credit 0",
                commitment.id
            ),
        };
        findings.push(Finding {
            rule_id: COMMITMENT_RULE.to_owned(),
            dimension: Dimension::FollowThrough,
            points: Points::from_hundredths(effect as i64),
            critical: false,
            sla_breach: false,
            message,
            evidence: Evidence::Commitment {
                commitment_id: commitment.id.clone(),
                due_at: commitment.due_at,
                fulfilled_at: commitment.fulfilled_at,
                lateness,
                credit,
            },
        });
    }
    Points::from_hundredths(div_round(total, count) as i64)
}

/// 100 × (1 − lateness / late limit), at least 0; no credit at all without a late limit.
pub fn late_credit(lateness: SignedDuration, late_limit: SignedDuration) -> Points {
    if late_limit <= SignedDuration::ZERO || lateness >= late_limit {
        return Points::ZERO;
    }
    let left = late_limit.as_nanos() - lateness.max(SignedDuration::ZERO).as_nanos();
    Points::from_hundredths(div_round(
        left * i128::from(Points::HUNDRED.hundredths()),
        late_limit.as_nanos(),
    ) as i64)
}

/// 有问必答: a trailing run of customer turns without a staff turn after it is a deduction once
/// the interaction is resolved or the run is older than its reply limit; pending before.
fn unanswered(facts: &Facts<'_>, findings: &mut Vec<Finding>, pending: &mut Vec<PendingItem>) {
    let Some(since) = facts.conversation.unanswered_since else {
        return;
    };
    let points = facts.rules.follow_through.unanswered_points;
    let asked_at = facts.interaction.turns[since].at;
    let speed = &facts.rules.speed;
    let limit = if facts.conversation.unanswered_is_first_wait() {
        speed.first_reply.or(speed.next_reply)
    } else {
        speed.next_reply.or(speed.first_reply)
    }
    .map(|target| target.limit);
    let deadline = limit.and_then(|limit| facts.working_time.deadline(asked_at, limit));
    let overdue = deadline.is_some_and(|deadline| deadline <= facts.evaluation_time);
    if !facts.resolved && !overdue {
        pending.push(PendingItem {
            kind: PendingKind::Unanswered,
            reference: since.to_string(),
            due: deadline,
        });
        return;
    }
    let why = if facts.resolved {
        "the interaction was resolved".to_owned()
    } else {
        format!(
            "it is older than the reply limit {:#}",
            limit.unwrap_or_default()
        )
    };
    findings.push(Finding {
        rule_id: "follow_through.unanswered".to_owned(),
        dimension: Dimension::FollowThrough,
        points,
        critical: false,
        sla_breach: false,
        message: format!("customer turn {since} got no staff reply and {why} (有问必答)"),
        evidence: Evidence::Event {
            at: Some(asked_at),
            turn_index: Some(since),
            detail: "unanswered customer turn".to_owned(),
        },
    });
}

/// The closed loop of a complaint: resolution recorded, customer confirmation, callback (回访)
/// within the window after resolution.
fn complaint_loop(facts: &Facts<'_>, findings: &mut Vec<Finding>, pending: &mut Vec<PendingItem>) {
    let Some(rule) = facts.rules.follow_through.complaint_loop else {
        return;
    };
    let Some(resolved_at) = facts.interaction.resolved_at() else {
        pending.push(PendingItem {
            kind: PendingKind::ComplaintOpen,
            reference: String::new(),
            due: None,
        });
        return;
    };
    let loop_ = facts.interaction.complaint;
    let mut missing = |rule_id: &str, points: Points, detail: &str, at: Option<Timestamp>| {
        findings.push(Finding {
            rule_id: rule_id.to_owned(),
            dimension: Dimension::FollowThrough,
            points,
            critical: false,
            sla_breach: false,
            message: format!("complaint closed loop: {detail}"),
            evidence: Evidence::Event {
                at,
                turn_index: None,
                detail: detail.to_owned(),
            },
        });
    };
    if loop_.resolution_recorded_at.is_none() {
        missing(
            "follow_through.complaint.resolution",
            rule.resolution_missing_points,
            "no resolution recorded",
            Some(resolved_at),
        );
    }
    if loop_.customer_confirmed_at.is_none() {
        missing(
            "follow_through.complaint.confirmation",
            rule.confirmation_missing_points,
            "the customer did not confirm the resolution",
            Some(resolved_at),
        );
    }
    let deadline = facts
        .working_time
        .deadline(resolved_at, rule.callback_window);
    match (loop_.callback_at, deadline) {
        (Some(callback), Some(deadline)) if callback <= deadline => {}
        (Some(callback), _) => missing(
            "follow_through.complaint.callback",
            rule.callback_missing_points,
            &format!(
                "callback (回访) done after the {:#} window",
                rule.callback_window
            ),
            Some(callback),
        ),
        (None, Some(deadline)) if deadline > facts.evaluation_time => pending.push(PendingItem {
            kind: PendingKind::ComplaintCallback,
            reference: String::new(),
            due: Some(deadline),
        }),
        (None, _) => missing(
            "follow_through.complaint.callback",
            rule.callback_missing_points,
            &format!(
                "no callback (回访) within {:#} of resolution",
                rule.callback_window
            ),
            deadline,
        ),
    }
}

/// 专人负责: each change of the speaking staff member is a hand-off.
fn hand_offs(facts: &Facts<'_>, findings: &mut Vec<Finding>) {
    let interaction = facts.interaction;
    let points = facts.rules.follow_through.hand_off_points;
    let mut previous: Option<&str> = None;
    for (index, turn) in interaction.turns.iter().enumerate() {
        if turn.speaker != Speaker::Staff {
            continue;
        }
        let staff = interaction.turn_staff(turn);
        if let Some(previous) = previous.filter(|previous| *previous != staff) {
            findings.push(Finding {
                rule_id: "follow_through.hand_off".to_owned(),
                dimension: Dimension::FollowThrough,
                points,
                critical: false,
                sla_breach: false,
                message: format!("hand-off from {previous} to {staff}: the tier requires one dedicated owner (专人负责)"),
                evidence: Evidence::Event {
                    at: Some(turn.at),
                    turn_index: Some(index),
                    detail: format!("{previous} -> {staff}"),
                },
            });
        }
        previous = Some(staff);
    }
}

/// Each reopening after a resolution: any change from RESOLVED to another status.
fn reopenings(facts: &Facts<'_>, findings: &mut Vec<Finding>) {
    let points = facts.rules.follow_through.reopen_points;
    let mut previous = Status::Open;
    for change in &facts.interaction.status_changes {
        if previous == Status::Resolved && change.status != Status::Resolved {
            findings.push(Finding {
                rule_id: "follow_through.reopen".to_owned(),
                dimension: Dimension::FollowThrough,
                points,
                critical: false,
                sla_breach: false,
                message: "reopened after resolution".to_owned(),
                evidence: Evidence::Event {
                    at: Some(change.at),
                    turn_index: None,
                    detail: format!("resolved -> {:?}", change.status),
                },
            });
        }
        previous = change.status;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_credit_falls_linearly_to_zero_at_the_limit() {
        let limit = SignedDuration::from_hours(4);
        let credit = |minutes| late_credit(SignedDuration::from_mins(minutes), limit).hundredths();
        assert_eq!(credit(0), 10_000);
        assert_eq!(credit(60), 7_500);
        assert_eq!(credit(120), 5_000);
        assert_eq!(credit(240), 0);
        assert_eq!(credit(1_000), 0);
        assert_eq!(
            late_credit(SignedDuration::from_mins(1), SignedDuration::ZERO),
            Points::ZERO
        );
    }
}
