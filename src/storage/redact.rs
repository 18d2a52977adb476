//! What is removed from a stored interaction and its scorecards when text is not kept
//! (`privacy.keep_transcripts = false`), when its retention ends, or when the customer's data
//! is erased. Pure functions on the stored wire messages, shared by the service (which drops
//! the transcript before a write) and every backend (which redacts what it already holds).
//!
//! The structure stays in every case — speakers, times, staff ids, commitments (id, due,
//! fulfilled), status changes, survey, complaint loop times, the standard used — because
//! speed and follow-through are computed from it when the interaction is re-scored.

use crate::proto::v1 as pb;

/// Removes the free text: the text of every turn, and the descriptions of commitments and the
/// resolution summary of the complaint loop (written about the customer, never used in
/// scoring). What stays is the structure and the customer id (so that an erasure request can
/// still find the interaction).
pub fn drop_transcript(interaction: &mut pb::Interaction) {
    for turn in &mut interaction.turns {
        turn.text = String::new();
    }
    for commitment in &mut interaction.commitments {
        commitment.description = String::new();
    }
    if let Some(complaint) = &mut interaction.complaint {
        complaint.resolution_summary = String::new();
    }
}

/// Removes the free text ([`drop_transcript`]) and the customer id.
pub fn redact_interaction(interaction: &mut pb::Interaction) {
    drop_transcript(interaction);
    interaction.customer_id = String::new();
}

/// The redacted form ([`redact_interaction`]) of an encoded interaction body.
pub fn redact_body(body: &[u8]) -> Result<Vec<u8>, prost::DecodeError> {
    use prost::Message;
    let mut interaction = pb::Interaction::decode(body)?;
    redact_interaction(&mut interaction);
    Ok(interaction.encode_to_vec())
}

/// Blanks the text quoted as evidence (`TextEvidence.snippet`); turn indexes, spans, phrase
/// sets and the standard's phrases stay, and so do all points. Returns whether anything
/// changed.
pub fn erase_snippets(scorecard: &mut pb::Scorecard) -> bool {
    let mut changed = false;
    for finding in &mut scorecard.findings {
        if let Some(pb::finding::Evidence::Text(text)) = &mut finding.evidence
            && !text.snippet.is_empty()
        {
            text.snippet = String::new();
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_the_structure_and_removes_the_text() {
        let mut interaction = pb::Interaction {
            interaction_id: "i".to_owned(),
            customer_id: "c".to_owned(),
            turns: vec![pb::Turn {
                speaker: pb::Speaker::Staff as i32,
                staff_id: "bob".to_owned(),
                at: Some(prost_types::Timestamp::default()),
                text: "hello".to_owned(),
            }],
            commitments: vec![pb::Commitment {
                commitment_id: "call".to_owned(),
                description: "call Mr Wang".to_owned(),
                due_at: Some(prost_types::Timestamp::default()),
                fulfilled_at: None,
            }],
            complaint: Some(pb::ComplaintLoop {
                resolution_summary: "refund to Mr Wang".to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut dropped = interaction.clone();
        drop_transcript(&mut dropped);
        assert_eq!(dropped.turns[0].text, "");
        assert_eq!(dropped.customer_id, "c");
        assert_eq!(dropped.commitments[0].description, "");
        assert_eq!(dropped.commitments[0].commitment_id, "call");

        redact_interaction(&mut interaction);
        assert_eq!(interaction.turns[0].text, "");
        assert_eq!(interaction.turns[0].staff_id, "bob");
        assert!(interaction.turns[0].at.is_some());
        assert_eq!(interaction.customer_id, "");
        assert_eq!(interaction.commitments[0].commitment_id, "call");
        assert_eq!(interaction.commitments[0].description, "");
        assert_eq!(
            interaction.complaint.as_ref().unwrap().resolution_summary,
            ""
        );
    }

    #[test]
    fn snippets_are_blanked_and_points_kept() {
        let mut scorecard = pb::Scorecard {
            findings: vec![pb::Finding {
                points: 15.0,
                evidence: Some(pb::finding::Evidence::Text(pb::TextEvidence {
                    turn_index: 1,
                    start: 0,
                    end: 4,
                    snippet: "不归我管".to_owned(),
                    phrase_set_id: "zh.indifference".to_owned(),
                    phrase: "不归我管".to_owned(),
                })),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(erase_snippets(&mut scorecard));
        let Some(pb::finding::Evidence::Text(text)) = &scorecard.findings[0].evidence else {
            panic!("text evidence");
        };
        assert_eq!(text.snippet, "");
        assert_eq!((text.turn_index, text.start, text.end), (1, 0, 4));
        assert_eq!(scorecard.findings[0].points, 15.0);
        assert!(!erase_snippets(&mut scorecard), "nothing left to erase");
    }
}
