//! Speed (响应速度): first reply, worst next reply, longest gap between updates while
//! unresolved, and resolution time less time pending on the customer, each against its target
//! and limit, in working time.

use jiff::{SignedDuration, Timestamp};

use super::Facts;
use super::conversation::{Wait, wait_start_time};
use crate::domain::interaction::Status;
use crate::domain::points::{Points, div_round, weighted_mean};
use crate::domain::scorecard::{Dimension, Evidence, Finding, SpeedMeasurements, SpeedMetric};
use crate::domain::standard::MetricTarget;

/// The speed dimension's result.
pub struct SpeedResult {
    /// The score, `None` when no metric applies.
    pub score: Option<Points>,
    /// SLA breach findings.
    pub findings: Vec<Finding>,
    /// Measured values.
    pub measurements: SpeedMeasurements,
    /// Metrics over target.
    pub breaches: u32,
}

/// 100 at or under the target, 0 at or over the limit, linear in between (hundredths,
/// rounded).
pub fn sub_score(value: SignedDuration, target: &MetricTarget) -> Points {
    if value <= target.target {
        return Points::HUNDRED;
    }
    if value >= target.limit {
        return Points::ZERO;
    }
    let span = target.limit.as_nanos() - target.target.as_nanos();
    let left = target.limit.as_nanos() - value.as_nanos();
    Points::from_hundredths(div_round(left * i128::from(Points::HUNDRED.hundredths()), span) as i64)
}

struct Measured {
    metric: SpeedMetric,
    value: SignedDuration,
    from_turn: Option<usize>,
    to_turn: Option<usize>,
}

pub fn score(facts: &Facts<'_>) -> SpeedResult {
    let rules = &facts.rules.speed;
    let mut measurements = SpeedMeasurements::default();
    let mut measured = Vec::new();

    if let Some(wait) = facts.conversation.first_wait
        && let Some(value) = wait_value(facts, wait)
    {
        measurements.first_reply = Some(value.value);
        measured.push(Measured {
            metric: SpeedMetric::FirstReply,
            ..value
        });
    }
    let worst_next = facts
        .conversation
        .next_waits
        .iter()
        .filter_map(|wait| wait_value(facts, *wait))
        .reduce(|worst, next| {
            if next.value > worst.value {
                next
            } else {
                worst
            }
        });
    if let Some(worst) = worst_next {
        measurements.next_reply = Some(worst.value);
        measured.push(Measured {
            metric: SpeedMetric::NextReply,
            ..worst
        });
    }
    if facts.rules.service_levels.keep_communicating
        && let Some(gap) = longest_update_gap(facts)
    {
        measurements.periodic_update = Some(gap.value);
        measured.push(gap);
    }
    if let Some(resolved_at) = facts.interaction.resolved_at() {
        let value = facts
            .working_time
            .elapsed_over(&facts.resolution_clock_intervals(false), resolved_at);
        measurements.resolution = Some(value);
        measured.push(Measured {
            metric: SpeedMetric::Resolution,
            value,
            from_turn: None,
            to_turn: None,
        });
    }

    let mut findings = Vec::new();
    let mut scored = Vec::new();
    let mut breaches = 0;
    for measurement in measured {
        let target = match measurement.metric {
            SpeedMetric::FirstReply => rules.first_reply,
            SpeedMetric::NextReply => rules.next_reply,
            SpeedMetric::PeriodicUpdate => rules.periodic_update,
            SpeedMetric::Resolution => rules.resolution,
        };
        let Some(target) = target else { continue };
        let sub = sub_score(measurement.value, &target);
        scored.push((target.weight, sub));
        if measurement.value > target.target {
            breaches += 1;
            findings.push(Finding {
                rule_id: measurement.metric.rule_id().to_owned(),
                dimension: Dimension::Speed,
                points: Points::HUNDRED - sub,
                critical: false,
                sla_breach: true,
                message: format!(
                    "{} {:#} is over the target {:#} (limit {:#}): sub-score {sub}",
                    measurement.metric.label(),
                    round_to_seconds(measurement.value),
                    target.target,
                    target.limit
                ),
                evidence: Evidence::Metric {
                    metric: measurement.metric,
                    value: measurement.value,
                    target: target.target,
                    limit: target.limit,
                    sub_score: sub,
                    from_turn: measurement.from_turn,
                    to_turn: measurement.to_turn,
                },
            });
        }
    }
    SpeedResult {
        score: weighted_mean(scored),
        findings,
        measurements,
        breaches,
    }
}

fn round_to_seconds(duration: SignedDuration) -> SignedDuration {
    SignedDuration::from_secs(duration.as_secs())
}

fn wait_value(facts: &Facts<'_>, wait: Wait) -> Option<Measured> {
    let reply = wait.reply?;
    let from = wait_start_time(facts.interaction, wait.from);
    let value = facts
        .working_time
        .elapsed(from, facts.interaction.turns[reply].at);
    Some(Measured {
        metric: SpeedMetric::FirstReply,
        value,
        from_turn: match wait.from {
            super::conversation::WaitStart::OpenedAt => None,
            super::conversation::WaitStart::Turn(index) => Some(index),
        },
        to_turn: Some(reply),
    })
}

/// The longest gap between consecutive staff turns, counting only time not resolved.
fn longest_update_gap(facts: &Facts<'_>) -> Option<Measured> {
    let staff = &facts.conversation.staff_turns;
    let unresolved: Vec<(Timestamp, Option<Timestamp>)> = facts
        .status_intervals
        .iter()
        .filter(|(status, _, _)| *status != Status::Resolved)
        .map(|&(_, from, until)| (from, until))
        .collect();
    staff
        .windows(2)
        .map(|pair| {
            let from = facts.interaction.turns[pair[0]].at;
            let to = facts.interaction.turns[pair[1]].at;
            let clipped: Vec<(Timestamp, Option<Timestamp>)> = unresolved
                .iter()
                .filter_map(|&(start, end)| {
                    let start = start.max(from);
                    let end = end.map_or(to, |end| end.min(to));
                    (end > start).then_some((start, Some(end)))
                })
                .collect();
            Measured {
                metric: SpeedMetric::PeriodicUpdate,
                value: facts.working_time.elapsed_over(&clipped, to),
                from_turn: Some(pair[0]),
                to_turn: Some(pair[1]),
            }
        })
        .reduce(|worst, next| {
            if next.value > worst.value {
                next
            } else {
                worst
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::points::Weight;

    #[test]
    fn sub_score_is_linear_between_target_and_limit() {
        let target = MetricTarget {
            target: SignedDuration::from_secs(60),
            limit: SignedDuration::from_secs(300),
            weight: Weight(10_000),
        };
        let at = |secs| sub_score(SignedDuration::from_secs(secs), &target).hundredths();
        assert_eq!(at(0), 10_000);
        assert_eq!(at(60), 10_000);
        assert_eq!(at(180), 5_000);
        assert_eq!(at(120), 7_500);
        assert_eq!(at(299), 42); // 100 × 1/240 = 0.4166…
        assert_eq!(at(300), 0);
        assert_eq!(at(10_000), 0);
    }
}
