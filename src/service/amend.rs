//! Follow-ups applied to a stored interaction (as its wire message) to make the next
//! revision: a commitment kept or added, a survey answered, a callback done, a resolution
//! recorded, a confirmation, a status change, more turns.

use prost_types::Timestamp;

use crate::convert::{InvalidArgument, Violations};
use crate::proto::v1 as pb;

/// Most amendments in one request.
pub const MAX_AMENDMENTS: usize = 100;

fn later(a: &Timestamp, b: &Timestamp) -> bool {
    (a.seconds, a.nanos) < (b.seconds, b.nanos)
}

/// Applies `amendments` in order to `interaction`, naming every problem with its path.
pub fn apply(
    interaction: &mut pb::Interaction,
    amendments: &[pb::Amendment],
) -> Result<(), InvalidArgument> {
    let mut violations = Violations::default();
    if amendments.is_empty() {
        violations.add("amendments", "at least one amendment is required");
    }
    if amendments.len() > MAX_AMENDMENTS {
        violations.add(
            "amendments",
            format!("at most {MAX_AMENDMENTS} amendments are accepted"),
        );
    }
    for (index, amendment) in amendments.iter().enumerate() {
        let path = |name: &str| format!("amendments[{index}].{name}");
        let at_required = |violations: &mut Violations,
                           name: &str,
                           at: &Option<Timestamp>|
         -> Option<Timestamp> {
            if at.is_none() {
                violations.add(path(name), "is required");
            }
            *at
        };
        use pb::amendment::Kind;
        match &amendment.kind {
            None => violations.add(
                format!("amendments[{index}]"),
                "names no follow-up (set one of its fields)",
            ),
            Some(Kind::CommitmentFulfilled(fulfilled)) => {
                let at = at_required(
                    &mut violations,
                    "commitment_fulfilled.fulfilled_at",
                    &fulfilled.fulfilled_at,
                );
                match interaction
                    .commitments
                    .iter_mut()
                    .find(|commitment| commitment.commitment_id == fulfilled.commitment_id)
                {
                    None => violations.add(
                        path("commitment_fulfilled.commitment_id"),
                        format!(
                            "the interaction has no commitment \"{}\"",
                            fulfilled.commitment_id
                        ),
                    ),
                    Some(commitment) => commitment.fulfilled_at = at,
                }
            }
            Some(Kind::CommitmentAdded(commitment)) => {
                if interaction
                    .commitments
                    .iter()
                    .any(|existing| existing.commitment_id == commitment.commitment_id)
                {
                    violations.add(
                        path("commitment_added.commitment_id"),
                        format!(
                            "the interaction already has a commitment \"{}\"",
                            commitment.commitment_id
                        ),
                    );
                } else {
                    interaction.commitments.push(commitment.clone());
                }
            }
            Some(Kind::SurveyAnswered(survey)) => interaction.survey = Some(*survey),
            Some(Kind::CallbackDone(event)) => {
                let at = at_required(&mut violations, "callback_done.at", &event.at);
                interaction
                    .complaint
                    .get_or_insert_with(Default::default)
                    .callback_at = at;
            }
            Some(Kind::ResolutionRecorded(recorded)) => {
                let at = at_required(&mut violations, "resolution_recorded.at", &recorded.at);
                let complaint = interaction.complaint.get_or_insert_with(Default::default);
                complaint.resolution_recorded_at = at;
                complaint.resolution_summary.clone_from(&recorded.summary);
            }
            Some(Kind::CustomerConfirmed(event)) => {
                let at = at_required(&mut violations, "customer_confirmed.at", &event.at);
                interaction
                    .complaint
                    .get_or_insert_with(Default::default)
                    .customer_confirmed_at = at;
            }
            Some(Kind::StatusChanged(change)) => {
                if let (Some(last), Some(at)) = (
                    interaction
                        .status_changes
                        .last()
                        .and_then(|last| last.at.as_ref()),
                    change.at.as_ref(),
                ) && later(at, last)
                {
                    violations.add(
                        path("status_changed.at"),
                        "is before the last status change",
                    );
                }
                interaction.status_changes.push(*change);
            }
            Some(Kind::TurnsAppended(appended)) => {
                if appended.turns.is_empty() {
                    violations.add(
                        path("turns_appended.turns"),
                        "at least one turn is required",
                    );
                }
                if let (Some(last), Some(first)) = (
                    interaction.turns.last().and_then(|last| last.at.as_ref()),
                    appended.turns.first().and_then(|first| first.at.as_ref()),
                ) && later(first, last)
                {
                    violations.add(
                        path("turns_appended.turns[0].at"),
                        "is before the last stored turn",
                    );
                }
                interaction.turns.extend(appended.turns.iter().cloned());
            }
        }
    }
    violations.into_result(())
}
