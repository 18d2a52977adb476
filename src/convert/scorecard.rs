//! Domain scorecards to `proto::v1::Scorecard`, and the findings of a stored scorecard back
//! to the domain (for carrying a dimension over into a re-score).

use jiff::{SignedDuration, Timestamp};

use super::{duration_to_proto, timestamp_to_proto};
use crate::domain::interaction::{Channel, InteractionKind, Tier};
use crate::domain::points::Points;
use crate::domain::scorecard::{
    Dimension, DimensionScore, DueItemKind, Evidence, Finding, Grade, PendingKind,
    SatisfactionLevel, Scorecard, ScorecardStatus, SpeedMetric,
};
use crate::proto::v1 as pb;

/// A tier on the wire.
pub fn tier_to_proto(tier: Tier) -> pb::Tier {
    match tier {
        Tier::Small => pb::Tier::Small,
        Tier::Medium => pb::Tier::Medium,
        Tier::Large => pb::Tier::Large,
        Tier::Vip => pb::Tier::Vip,
    }
}

/// A channel on the wire.
pub fn channel_to_proto(channel: Channel) -> pb::Channel {
    match channel {
        Channel::Phone => pb::Channel::Phone,
        Channel::Chat => pb::Channel::Chat,
        Channel::Email => pb::Channel::Email,
        Channel::Sms => pb::Channel::Sms,
        Channel::InPerson => pb::Channel::InPerson,
        Channel::Social => pb::Channel::Social,
    }
}

fn kind_to_proto(kind: InteractionKind) -> pb::InteractionKind {
    match kind {
        InteractionKind::Inquiry => pb::InteractionKind::Inquiry,
        InteractionKind::Complaint => pb::InteractionKind::Complaint,
        InteractionKind::ServiceRequest => pb::InteractionKind::ServiceRequest,
        InteractionKind::FollowUp => pb::InteractionKind::FollowUp,
        InteractionKind::Feedback => pb::InteractionKind::Feedback,
    }
}

/// A grade on the wire.
pub fn grade_to_proto(grade: Grade) -> pb::Grade {
    match grade {
        Grade::Fail => pb::Grade::Fail,
        Grade::Below => pb::Grade::Below,
        Grade::Meets => pb::Grade::Meets,
        Grade::Excellent => pb::Grade::Excellent,
        Grade::Ungraded => pb::Grade::Ungraded,
    }
}

fn dimension_to_proto(dimension: Dimension) -> pb::Dimension {
    match dimension {
        Dimension::Politeness => pb::Dimension::Politeness,
        Dimension::Speed => pb::Dimension::Speed,
        Dimension::FollowThrough => pb::Dimension::FollowThrough,
        Dimension::Satisfaction => pb::Dimension::Satisfaction,
    }
}

fn metric_to_proto(metric: SpeedMetric) -> pb::SpeedMetric {
    match metric {
        SpeedMetric::FirstReply => pb::SpeedMetric::FirstReply,
        SpeedMetric::NextReply => pb::SpeedMetric::NextReply,
        SpeedMetric::PeriodicUpdate => pb::SpeedMetric::PeriodicUpdate,
        SpeedMetric::Resolution => pb::SpeedMetric::Resolution,
    }
}

fn dimension_score(score: &DimensionScore) -> pb::DimensionScore {
    pb::DimensionScore {
        applicable: score.score.is_some(),
        score: score.score.map(|points| points.to_f64()),
        weight: score.weight.to_f64(),
        not_applicable_reason: score.not_applicable_reason.to_owned(),
    }
}

fn index(value: Option<usize>) -> i32 {
    value.map_or(-1, |index| index as i32)
}

fn evidence(evidence: &Evidence) -> pb::finding::Evidence {
    match evidence {
        Evidence::Text {
            turn_index,
            start,
            end,
            snippet,
            phrase_set_id,
            phrase,
        } => pb::finding::Evidence::Text(pb::TextEvidence {
            turn_index: *turn_index as i32,
            start: *start as i32,
            end: *end as i32,
            snippet: snippet.clone(),
            phrase_set_id: phrase_set_id.clone(),
            phrase: phrase.clone(),
        }),
        Evidence::Turns {
            turn_indexes,
            phrase_set_id,
        } => pb::finding::Evidence::Turns(pb::TurnRangeEvidence {
            turn_indexes: turn_indexes.iter().map(|index| *index as i32).collect(),
            phrase_set_id: phrase_set_id.clone(),
        }),
        Evidence::Metric {
            metric,
            value,
            target,
            limit,
            sub_score,
            from_turn,
            to_turn,
        } => pb::finding::Evidence::Metric(pb::MetricEvidence {
            metric: metric_to_proto(*metric) as i32,
            value: Some(duration_to_proto(*value)),
            target: Some(duration_to_proto(*target)),
            limit: Some(duration_to_proto(*limit)),
            sub_score: sub_score.to_f64(),
            from_turn_index: index(*from_turn),
            to_turn_index: index(*to_turn),
        }),
        Evidence::Commitment {
            commitment_id,
            due_at,
            fulfilled_at,
            lateness,
            credit,
        } => pb::finding::Evidence::Commitment(pb::CommitmentEvidence {
            commitment_id: commitment_id.clone(),
            due_at: Some(timestamp_to_proto(*due_at)),
            fulfilled_at: fulfilled_at.map(timestamp_to_proto),
            lateness: Some(duration_to_proto(*lateness)),
            credit: credit.to_f64(),
        }),
        Evidence::Event {
            at,
            turn_index,
            detail,
        } => pb::finding::Evidence::Event(pb::EventEvidence {
            at: at.map(timestamp_to_proto),
            turn_index: index(*turn_index),
            detail: detail.clone(),
        }),
    }
}

/// A finding on the wire.
pub fn finding_to_proto(finding: &Finding) -> pb::Finding {
    pb::Finding {
        rule_id: finding.rule_id.clone(),
        dimension: dimension_to_proto(finding.dimension) as i32,
        points: finding.points.to_f64(),
        critical: finding.critical,
        sla_breach: finding.sla_breach,
        message: finding.message.clone(),
        evidence: Some(evidence(&finding.evidence)),
    }
}

/// A scorecard on the wire.
pub fn to_proto(scorecard: &Scorecard) -> pb::Scorecard {
    pb::Scorecard {
        interaction_id: scorecard.interaction_id.clone(),
        revision: scorecard.revision,
        staff_id: scorecard.staff_id.clone(),
        team_id: scorecard.team_id.clone(),
        local_date: scorecard.local_date.to_string(),
        tier: tier_to_proto(scorecard.tier) as i32,
        channel: channel_to_proto(scorecard.channel) as i32,
        kind: kind_to_proto(scorecard.kind) as i32,
        standard: Some(pb::StandardRef {
            standard_id: scorecard.standard_id.clone(),
            version: scorecard.standard_version,
        }),
        cell_id: scorecard.cell_id.clone(),
        evaluation_time: Some(timestamp_to_proto(scorecard.evaluation_time)),
        status: match scorecard.status {
            ScorecardStatus::Provisional => pb::ScorecardStatus::Provisional,
            ScorecardStatus::Final => pb::ScorecardStatus::Final,
        } as i32,
        politeness: Some(dimension_score(&scorecard.politeness)),
        speed: Some(dimension_score(&scorecard.speed)),
        follow_through: Some(dimension_score(&scorecard.follow_through)),
        composite: scorecard.composite.map(|points| points.to_f64()),
        grade: grade_to_proto(scorecard.grade) as i32,
        satisfaction: Some(match scorecard.satisfaction {
            None => pb::Satisfaction::default(),
            Some(satisfaction) => pb::Satisfaction {
                surveyed: true,
                expectation: i32::from(satisfaction.survey.expectation),
                perception: i32::from(satisfaction.survey.perception),
                gap: satisfaction.survey.gap(),
                level: match satisfaction.level {
                    SatisfactionLevel::Satisfied => pb::SatisfactionLevel::Satisfied,
                    SatisfactionLevel::Basic => pb::SatisfactionLevel::Basic,
                    SatisfactionLevel::Unsatisfied => pb::SatisfactionLevel::Unsatisfied,
                } as i32,
                expectation_not_exceeded: satisfaction.expectation_not_exceeded,
            },
        }),
        findings: scorecard.findings.iter().map(finding_to_proto).collect(),
        speed_metrics: Some(pb::SpeedMetrics {
            first_reply: scorecard.speed_metrics.first_reply.map(duration_to_proto),
            next_reply: scorecard.speed_metrics.next_reply.map(duration_to_proto),
            periodic_update: scorecard
                .speed_metrics
                .periodic_update
                .map(duration_to_proto),
            resolution: scorecard.speed_metrics.resolution.map(duration_to_proto),
        }),
        pending_items: scorecard
            .pending
            .iter()
            .map(|item| pb::PendingItem {
                kind: match item.kind {
                    PendingKind::Commitment => pb::PendingKind::Commitment,
                    PendingKind::Unanswered => pb::PendingKind::Unanswered,
                    PendingKind::ComplaintCallback => pb::PendingKind::ComplaintCallback,
                    PendingKind::ComplaintOpen => pb::PendingKind::ComplaintOpen,
                } as i32,
                reference: item.reference.clone(),
                due_time: item.due.map(timestamp_to_proto),
            })
            .collect(),
        next_due_time: scorecard.next_due.map(timestamp_to_proto),
        sla_breaches: scorecard.sla_breaches as i32,
        due_items: scorecard
            .due_items
            .iter()
            .map(|item| pb::DueItem {
                kind: match item.kind {
                    DueItemKind::Commitment => pb::DueItemKind::Commitment,
                    DueItemKind::Resolution => pb::DueItemKind::Resolution,
                } as i32,
                reference: item.reference.clone(),
                deadline: Some(timestamp_to_proto(item.deadline)),
                local_date: item.local_date.to_string(),
                done_at: item.done_at.map(timestamp_to_proto),
                cleared: item.cleared,
                done_local_date: item
                    .done_local_date
                    .map(|date| date.to_string())
                    .unwrap_or_default(),
            })
            .collect(),
        store_time: None,
    }
}

/// Why a stored scorecard cannot be read back into the domain (a bug or a corrupt record).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored scorecard: {0}")]
pub struct StoredScorecardError(String);

fn bad(what: impl Into<String>) -> StoredScorecardError {
    StoredScorecardError(what.into())
}

fn points_from_proto(value: f64, what: &str) -> Result<Points, StoredScorecardError> {
    Points::from_f64(value).ok_or_else(|| bad(format!("{what} {value} is not a score")))
}

fn timestamp_from_proto(
    value: Option<&prost_types::Timestamp>,
) -> Result<Option<Timestamp>, StoredScorecardError> {
    value
        .map(|at| Timestamp::new(at.seconds, at.nanos).map_err(|_| bad("a timestamp is invalid")))
        .transpose()
}

fn duration_from_proto(value: Option<&prost_types::Duration>) -> SignedDuration {
    value.map_or(SignedDuration::ZERO, |duration| {
        SignedDuration::new(duration.seconds, duration.nanos)
    })
}

fn index_from_proto(value: i32) -> Option<usize> {
    usize::try_from(value).ok()
}

fn usize_from_proto(value: i32, what: &str) -> Result<usize, StoredScorecardError> {
    usize::try_from(value).map_err(|_| bad(format!("{what} {value} is negative")))
}

/// The score of a stored dimension (`None` when it did not apply).
pub fn dimension_points_from_proto(
    score: &pb::DimensionScore,
) -> Result<Option<Points>, StoredScorecardError> {
    match (score.applicable, score.score) {
        (true, Some(value)) => Ok(Some(points_from_proto(value, "a dimension score")?)),
        (true, None) => Err(bad("an applicable dimension has no score")),
        (false, _) => Ok(None),
    }
}

/// A stored finding in the domain.
pub fn finding_from_proto(finding: &pb::Finding) -> Result<Finding, StoredScorecardError> {
    let dimension = match pb::Dimension::try_from(finding.dimension) {
        Ok(pb::Dimension::Politeness) => Dimension::Politeness,
        Ok(pb::Dimension::Speed) => Dimension::Speed,
        Ok(pb::Dimension::FollowThrough) => Dimension::FollowThrough,
        Ok(pb::Dimension::Satisfaction) => Dimension::Satisfaction,
        _ => return Err(bad(format!("unknown dimension {}", finding.dimension))),
    };
    let evidence = match finding.evidence.as_ref() {
        None => return Err(bad(format!("finding {} has no evidence", finding.rule_id))),
        Some(pb::finding::Evidence::Text(text)) => Evidence::Text {
            turn_index: usize_from_proto(text.turn_index, "a turn index")?,
            start: usize_from_proto(text.start, "a span start")?,
            end: usize_from_proto(text.end, "a span end")?,
            snippet: text.snippet.clone(),
            phrase_set_id: text.phrase_set_id.clone(),
            phrase: text.phrase.clone(),
        },
        Some(pb::finding::Evidence::Turns(turns)) => Evidence::Turns {
            turn_indexes: turns
                .turn_indexes
                .iter()
                .map(|index| usize_from_proto(*index, "a turn index"))
                .collect::<Result<_, _>>()?,
            phrase_set_id: turns.phrase_set_id.clone(),
        },
        Some(pb::finding::Evidence::Metric(metric)) => Evidence::Metric {
            metric: match pb::SpeedMetric::try_from(metric.metric) {
                Ok(pb::SpeedMetric::FirstReply) => SpeedMetric::FirstReply,
                Ok(pb::SpeedMetric::NextReply) => SpeedMetric::NextReply,
                Ok(pb::SpeedMetric::PeriodicUpdate) => SpeedMetric::PeriodicUpdate,
                Ok(pb::SpeedMetric::Resolution) => SpeedMetric::Resolution,
                _ => return Err(bad(format!("unknown speed metric {}", metric.metric))),
            },
            value: duration_from_proto(metric.value.as_ref()),
            target: duration_from_proto(metric.target.as_ref()),
            limit: duration_from_proto(metric.limit.as_ref()),
            sub_score: points_from_proto(metric.sub_score, "a sub-score")?,
            from_turn: index_from_proto(metric.from_turn_index),
            to_turn: index_from_proto(metric.to_turn_index),
        },
        Some(pb::finding::Evidence::Commitment(commitment)) => Evidence::Commitment {
            commitment_id: commitment.commitment_id.clone(),
            due_at: timestamp_from_proto(commitment.due_at.as_ref())?
                .ok_or_else(|| bad("a commitment finding has no due time"))?,
            fulfilled_at: timestamp_from_proto(commitment.fulfilled_at.as_ref())?,
            lateness: duration_from_proto(commitment.lateness.as_ref()),
            credit: points_from_proto(commitment.credit, "a credit")?,
        },
        Some(pb::finding::Evidence::Event(event)) => Evidence::Event {
            at: timestamp_from_proto(event.at.as_ref())?,
            turn_index: index_from_proto(event.turn_index),
            detail: event.detail.clone(),
        },
    };
    Ok(Finding {
        rule_id: finding.rule_id.clone(),
        dimension,
        points: points_from_proto(finding.points, "finding points")?,
        critical: finding.critical,
        sla_breach: finding.sla_breach,
        message: finding.message.clone(),
        evidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(dimension: Dimension, evidence: Evidence) -> Finding {
        Finding {
            rule_id: "rule".to_owned(),
            dimension,
            points: Points::from_hundredths(1_525),
            critical: true,
            sla_breach: false,
            message: "why".to_owned(),
            evidence,
        }
    }

    #[test]
    fn findings_read_back_as_they_were_written() {
        let at = Timestamp::from_second(1_795_435_200).unwrap();
        let findings = [
            finding(
                Dimension::Politeness,
                Evidence::Text {
                    turn_index: 3,
                    start: 2,
                    end: 6,
                    snippet: "不归我管".to_owned(),
                    phrase_set_id: "zh.indifference".to_owned(),
                    phrase: "不归我管".to_owned(),
                },
            ),
            finding(
                Dimension::Politeness,
                Evidence::Turns {
                    turn_indexes: vec![1, 3],
                    phrase_set_id: "zh.greeting".to_owned(),
                },
            ),
            finding(
                Dimension::Speed,
                Evidence::Metric {
                    metric: SpeedMetric::NextReply,
                    value: SignedDuration::from_secs(95),
                    target: SignedDuration::from_secs(60),
                    limit: SignedDuration::from_secs(300),
                    sub_score: Points::from_hundredths(8_542),
                    from_turn: None,
                    to_turn: Some(4),
                },
            ),
            finding(
                Dimension::FollowThrough,
                Evidence::Commitment {
                    commitment_id: "call".to_owned(),
                    due_at: at,
                    fulfilled_at: Some(at + SignedDuration::from_mins(5)),
                    lateness: SignedDuration::from_mins(5),
                    credit: Points::from_hundredths(9_000),
                },
            ),
            finding(
                Dimension::Satisfaction,
                Evidence::Event {
                    at: None,
                    turn_index: Some(0),
                    detail: "gap 0".to_owned(),
                },
            ),
        ];
        for original in findings {
            let read = finding_from_proto(&finding_to_proto(&original)).unwrap();
            assert_eq!(read, original);
        }
    }

    #[test]
    fn dimension_scores_read_back() {
        let applicable = pb::DimensionScore {
            applicable: true,
            score: Some(85.0),
            weight: 0.3,
            not_applicable_reason: String::new(),
        };
        assert_eq!(
            dimension_points_from_proto(&applicable).unwrap(),
            Some(Points::from_hundredths(8_500))
        );
        let not_applicable = pb::DimensionScore::default();
        assert_eq!(dimension_points_from_proto(&not_applicable).unwrap(), None);
        let broken = pb::DimensionScore {
            applicable: true,
            ..Default::default()
        };
        assert!(dimension_points_from_proto(&broken).is_err());
    }
}
