//! `proto::v1::Interaction` to the domain, with every bad field named. Timestamps must be in
//! time order and not in the future beyond the skew allowance; texts and lists are bounded.

use std::fmt::Display;

use jiff::Timestamp;

use super::{FieldPath, InvalidArgument, Violations, required_timestamp, timestamp};
use crate::config::Limits;
use crate::domain::interaction::{
    Channel, Commitment, ComplaintLoop, Initiator, Interaction, InteractionKind, Speaker,
    StandardRef, Status, StatusChange, Survey, Tier, Turn,
};
use crate::proto::v1 as pb;

/// Longest id (interaction, staff, customer, commitment), in characters.
pub const MAX_ID_CHARS: usize = 128;

/// A tier from the wire.
pub fn tier(value: i32) -> Option<Tier> {
    match pb::Tier::try_from(value).ok()? {
        pb::Tier::Unspecified => None,
        pb::Tier::Small => Some(Tier::Small),
        pb::Tier::Medium => Some(Tier::Medium),
        pb::Tier::Large => Some(Tier::Large),
        pb::Tier::Vip => Some(Tier::Vip),
    }
}

/// A channel from the wire.
pub fn channel(value: i32) -> Option<Channel> {
    match pb::Channel::try_from(value).ok()? {
        pb::Channel::Unspecified => None,
        pb::Channel::Phone => Some(Channel::Phone),
        pb::Channel::Chat => Some(Channel::Chat),
        pb::Channel::Email => Some(Channel::Email),
        pb::Channel::Sms => Some(Channel::Sms),
        pb::Channel::InPerson => Some(Channel::InPerson),
        pb::Channel::Social => Some(Channel::Social),
    }
}

fn kind(value: i32) -> Option<InteractionKind> {
    match pb::InteractionKind::try_from(value).ok()? {
        pb::InteractionKind::Unspecified => None,
        pb::InteractionKind::Inquiry => Some(InteractionKind::Inquiry),
        pb::InteractionKind::Complaint => Some(InteractionKind::Complaint),
        pb::InteractionKind::ServiceRequest => Some(InteractionKind::ServiceRequest),
        pb::InteractionKind::FollowUp => Some(InteractionKind::FollowUp),
        pb::InteractionKind::Feedback => Some(InteractionKind::Feedback),
    }
}

fn speaker(value: i32) -> Option<Speaker> {
    match pb::Speaker::try_from(value).ok()? {
        pb::Speaker::Unspecified => None,
        pb::Speaker::Customer => Some(Speaker::Customer),
        pb::Speaker::Staff => Some(Speaker::Staff),
        pb::Speaker::System => Some(Speaker::System),
    }
}

fn status(value: i32) -> Option<Status> {
    match pb::InteractionStatus::try_from(value).ok()? {
        pb::InteractionStatus::Unspecified => None,
        pb::InteractionStatus::Open => Some(Status::Open),
        pb::InteractionStatus::PendingCustomer => Some(Status::PendingCustomer),
        pb::InteractionStatus::OnHold => Some(Status::OnHold),
        pb::InteractionStatus::Resolved => Some(Status::Resolved),
        pb::InteractionStatus::Reopened => Some(Status::Reopened),
    }
}

fn enum_violation(violations: &mut Violations, field: impl Display, value: i32, names: &str) {
    if value == 0 {
        violations.add(field.to_string(), format!("is required (one of {names})"));
    } else {
        violations.add(
            field.to_string(),
            format!("unknown value {value} (expected one of {names})"),
        );
    }
}

/// How a revision number is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevisionRule {
    /// Stored interactions: revision ≥ 1.
    Required,
    /// Previews: any revision ≥ 0.
    Optional,
}

/// Validates and converts an interaction. `field` is the path of the message in the request
/// (e.g. `interaction`); `now` bounds timestamps in the future.
pub fn from_proto(
    message: &pb::Interaction,
    field: &str,
    limits: &Limits,
    revision_rule: RevisionRule,
    now: Timestamp,
) -> Result<Interaction, InvalidArgument> {
    let mut violations = Violations::default();
    let path = |name| FieldPath::new(field, name);
    let latest_allowed = now.checked_add(limits.future_skew).unwrap_or(now);
    let not_future = |violations: &mut Violations, at: Option<Timestamp>, name: &dyn Display| {
        if at.is_some_and(|at| at > latest_allowed) {
            violations.add(
                name.to_string(),
                format!(
                    "is in the future (more than {:#} after the server clock)",
                    limits.future_skew
                ),
            );
        }
    };

    violations.check_id(
        path("interaction_id"),
        &message.interaction_id,
        true,
        MAX_ID_CHARS,
    );
    match revision_rule {
        RevisionRule::Required if message.revision < 1 => {
            violations.add(path("revision"), "must be at least 1");
        }
        RevisionRule::Optional if message.revision < 0 => {
            violations.add(path("revision"), "must not be negative");
        }
        _ => {}
    }
    violations.check_id(path("staff_id"), &message.staff_id, true, MAX_ID_CHARS);
    violations.check_id(
        path("customer_id"),
        &message.customer_id,
        false,
        MAX_ID_CHARS,
    );
    let tier = tier(message.tier);
    if tier.is_none() {
        enum_violation(
            &mut violations,
            path("tier"),
            message.tier,
            "TIER_SMALL, TIER_MEDIUM, TIER_LARGE, TIER_VIP",
        );
    }
    let channel = channel(message.channel);
    if channel.is_none() {
        enum_violation(
            &mut violations,
            path("channel"),
            message.channel,
            "CHANNEL_PHONE, CHANNEL_CHAT, CHANNEL_EMAIL, CHANNEL_SMS, CHANNEL_IN_PERSON, CHANNEL_SOCIAL",
        );
    }
    let kind = kind(message.kind);
    if kind.is_none() {
        enum_violation(
            &mut violations,
            path("kind"),
            message.kind,
            "INTERACTION_KIND_INQUIRY, _COMPLAINT, _SERVICE_REQUEST, _FOLLOW_UP, _FEEDBACK",
        );
    }
    let initiator = match pb::Initiator::try_from(message.initiator) {
        Ok(pb::Initiator::Unspecified | pb::Initiator::Customer) => Initiator::Customer,
        Ok(pb::Initiator::Staff) => Initiator::Staff,
        Err(_) => {
            enum_violation(
                &mut violations,
                path("initiator"),
                message.initiator,
                "INITIATOR_CUSTOMER, INITIATOR_STAFF",
            );
            Initiator::Customer
        }
    };
    let opened_at = required_timestamp(
        &mut violations,
        path("opened_at"),
        message.opened_at.as_ref(),
    );
    not_future(&mut violations, opened_at, &path("opened_at"));

    if message.turns.len() > limits.max_turns {
        violations.add(
            path("turns"),
            format!("at most {} turns are accepted", limits.max_turns),
        );
    }
    let mut turns = Vec::with_capacity(message.turns.len());
    let mut previous_at = opened_at;
    for (index, turn) in message.turns.iter().enumerate() {
        let turn_path = |name| FieldPath::element(field, "turns", index, name);
        let speaker = speaker(turn.speaker);
        if speaker.is_none() {
            enum_violation(
                &mut violations,
                turn_path("speaker"),
                turn.speaker,
                "SPEAKER_CUSTOMER, SPEAKER_STAFF, SPEAKER_SYSTEM",
            );
        }
        if !turn.staff_id.is_empty() && speaker != Some(Speaker::Staff) {
            violations.add(turn_path("staff_id"), "is only allowed on staff turns");
        }
        violations.check_id(turn_path("staff_id"), &turn.staff_id, false, MAX_ID_CHARS);
        let at = required_timestamp(&mut violations, turn_path("at"), turn.at.as_ref());
        if let (Some(at), Some(previous)) = (at, previous_at)
            && at < previous
        {
            let what = if index == 0 {
                "opened_at".to_owned()
            } else {
                format!("turns[{}].at", index - 1)
            };
            violations.add(
                turn_path("at"),
                format!("is before {what}: turns must be in time order"),
            );
        }
        not_future(&mut violations, at, &turn_path("at"));
        previous_at = at.or(previous_at);
        if turn.text.len() > limits.max_turn_chars
            && turn.text.chars().count() > limits.max_turn_chars
        {
            violations.add(
                turn_path("text"),
                format!("must be at most {} characters", limits.max_turn_chars),
            );
        }
        if let (Some(speaker), Some(at)) = (speaker, at) {
            turns.push(Turn {
                speaker,
                staff_id: (!turn.staff_id.is_empty()).then(|| turn.staff_id.clone()),
                at,
                text: turn.text.clone(),
            });
        }
    }

    if message.status_changes.len() > limits.max_status_changes {
        violations.add(
            path("status_changes"),
            format!(
                "at most {} status changes are accepted",
                limits.max_status_changes
            ),
        );
    }
    let mut status_changes = Vec::with_capacity(message.status_changes.len());
    let mut previous_at = opened_at;
    for (index, change) in message.status_changes.iter().enumerate() {
        let change_path = |name| FieldPath::element(field, "status_changes", index, name);
        let status = status(change.status);
        if status.is_none() {
            enum_violation(
                &mut violations,
                change_path("status"),
                change.status,
                "INTERACTION_STATUS_OPEN, _PENDING_CUSTOMER, _ON_HOLD, _RESOLVED, _REOPENED",
            );
        }
        let at = required_timestamp(&mut violations, change_path("at"), change.at.as_ref());
        if let (Some(at), Some(previous)) = (at, previous_at)
            && at < previous
        {
            violations.add(
                change_path("at"),
                "status changes must be in time order, after opened_at",
            );
        }
        not_future(&mut violations, at, &change_path("at"));
        previous_at = at.or(previous_at);
        if let (Some(status), Some(at)) = (status, at) {
            status_changes.push(StatusChange { status, at });
        }
    }

    if message.commitments.len() > limits.max_commitments {
        violations.add(
            path("commitments"),
            format!(
                "at most {} commitments are accepted",
                limits.max_commitments
            ),
        );
    }
    let mut commitments: Vec<Commitment> = Vec::with_capacity(message.commitments.len());
    for (index, commitment) in message.commitments.iter().enumerate() {
        let commitment_path = |name| FieldPath::element(field, "commitments", index, name);
        violations.check_id(
            commitment_path("commitment_id"),
            &commitment.commitment_id,
            true,
            MAX_ID_CHARS,
        );
        if message.commitments[..index]
            .iter()
            .any(|earlier| earlier.commitment_id == commitment.commitment_id)
        {
            violations.add(
                commitment_path("commitment_id"),
                "is used by an earlier commitment",
            );
        }
        if commitment.description.chars().count() > limits.max_turn_chars {
            violations.add(
                commitment_path("description"),
                format!("must be at most {} characters", limits.max_turn_chars),
            );
        }
        let due_at = required_timestamp(
            &mut violations,
            commitment_path("due_at"),
            commitment.due_at.as_ref(),
        );
        let fulfilled_at = commitment
            .fulfilled_at
            .as_ref()
            .and_then(|value| timestamp(&mut violations, commitment_path("fulfilled_at"), value));
        not_future(
            &mut violations,
            fulfilled_at,
            &commitment_path("fulfilled_at"),
        );
        if let Some(due_at) = due_at {
            commitments.push(Commitment {
                id: commitment.commitment_id.clone(),
                due_at,
                fulfilled_at,
            });
        }
    }

    let survey = message.survey.as_ref().map(|survey| {
        for (name, value) in [
            ("expectation", survey.expectation),
            ("perception", survey.perception),
        ] {
            if !(1..=5).contains(&value) {
                violations.add(format!("{field}.survey.{name}"), "must be between 1 and 5");
            }
        }
        let answered_at = survey.answered_at.as_ref().and_then(|value| {
            timestamp(
                &mut violations,
                format!("{field}.survey.answered_at"),
                value,
            )
        });
        not_future(
            &mut violations,
            answered_at,
            &format!("{field}.survey.answered_at"),
        );
        Survey {
            expectation: survey.expectation.clamp(1, 5) as u8,
            perception: survey.perception.clamp(1, 5) as u8,
        }
    });

    let complaint = match &message.complaint {
        None => ComplaintLoop::default(),
        Some(loop_) => {
            let mut at = |name: &str, value: Option<&prost_types::Timestamp>| {
                let name = format!("{field}.complaint.{name}");
                let at = value.and_then(|value| timestamp(&mut violations, &name, value));
                not_future(&mut violations, at, &name);
                at
            };
            let complaint = ComplaintLoop {
                resolution_recorded_at: at(
                    "resolution_recorded_at",
                    loop_.resolution_recorded_at.as_ref(),
                ),
                customer_confirmed_at: at(
                    "customer_confirmed_at",
                    loop_.customer_confirmed_at.as_ref(),
                ),
                callback_at: at("callback_at", loop_.callback_at.as_ref()),
            };
            if loop_.resolution_summary.chars().count() > limits.max_turn_chars {
                violations.add(
                    format!("{field}.complaint.resolution_summary"),
                    format!("must be at most {} characters", limits.max_turn_chars),
                );
            }
            complaint
        }
    };

    let standard = message.standard.as_ref().map(|reference| {
        violations.check_name(
            &format!("{field}.standard.standard_id"),
            &reference.standard_id,
        );
        if reference.version < 0 {
            violations.add(format!("{field}.standard.version"), "must not be negative");
        }
        StandardRef {
            standard_id: reference.standard_id.clone(),
            version: reference.version,
        }
    });

    if !violations.is_empty() {
        return Err(violations.into_result(()).unwrap_err());
    }
    Ok(Interaction {
        interaction_id: message.interaction_id.clone(),
        revision: message.revision,
        staff_id: message.staff_id.clone(),
        customer_id: message.customer_id.clone(),
        tier: tier.expect("validated"),
        channel: channel.expect("validated"),
        kind: kind.expect("validated"),
        initiator,
        opened_at: opened_at.expect("validated"),
        turns,
        status_changes,
        commitments,
        survey,
        complaint,
        standard,
    })
}
