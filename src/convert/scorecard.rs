//! Domain scorecards to `proto::v1::Scorecard`.

use super::{duration_to_proto, timestamp_to_proto};
use crate::domain::interaction::{Channel, InteractionKind, Tier};
use crate::domain::scorecard::{
    Dimension, DimensionScore, DueItemKind, Evidence, Grade, PendingKind, SatisfactionLevel,
    Scorecard, ScorecardStatus, SpeedMetric,
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
        findings: scorecard
            .findings
            .iter()
            .map(|finding| pb::Finding {
                rule_id: finding.rule_id.clone(),
                dimension: dimension_to_proto(finding.dimension) as i32,
                points: finding.points.to_f64(),
                critical: finding.critical,
                sla_breach: finding.sla_breach,
                message: finding.message.clone(),
                evidence: Some(evidence(&finding.evidence)),
            })
            .collect(),
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
