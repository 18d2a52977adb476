//! Offline scoring for calibrating a standard: `servscore score --interaction FILE` scores one
//! interaction (proto3 JSON) against the built-in standard or a standard file (TOML or proto3
//! JSON), with an optional team file for the time zone and business hours, and prints the
//! scorecard as proto3 JSON. Nothing is stored and no server is needed.

use std::path::Path;

use jiff::Timestamp;
use prost::Message;

use crate::config::Limits;
use crate::convert::interaction::{RevisionRule, from_proto};
use crate::convert::json;
use crate::domain::team::{DEFAULT_TEAM_ID, Team};
use crate::proto::v1 as pb;
use crate::scoring::{CompiledStandard, ScoringContext, score};

/// Reads a message from a `.toml` file, or proto3 JSON otherwise.
pub fn read_message<T: Message + Default>(path: &Path, full_name: &str) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let parsed = if path
        .extension()
        .is_some_and(|extension| extension == "toml")
    {
        json::from_toml(full_name, &text)
    } else {
        json::from_json(full_name, &text)
    };
    parsed.map_err(|error| format!("{} is not a valid {full_name}: {error}", path.display()))
}

/// Reads an interaction file: an `Interaction`, or a `ScoreInteractionRequest` wrapping one.
fn read_interaction(path: &Path) -> Result<pb::Interaction, String> {
    let wrapped: Result<pb::ScoreInteractionRequest, String> =
        read_message(path, "servscore.v1.ScoreInteractionRequest");
    if let Ok(pb::ScoreInteractionRequest {
        interaction: Some(interaction),
    }) = wrapped
    {
        return Ok(interaction);
    }
    read_message(path, "servscore.v1.Interaction")
}

fn describe(invalid: &crate::convert::InvalidArgument) -> String {
    invalid
        .0
        .iter()
        .map(|violation| format!("  {}: {}", violation.field, violation.description))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Scores the interaction in `interaction` and returns the scorecard as proto3 JSON.
pub fn score_files(
    interaction: &Path,
    standard: Option<&Path>,
    team: Option<&Path>,
    evaluation_time: Option<Timestamp>,
) -> Result<String, String> {
    let message = read_interaction(interaction)?;
    let now = evaluation_time.unwrap_or_else(Timestamp::now);
    let interaction = from_proto(
        &message,
        "interaction",
        &Limits::default(),
        RevisionRule::Optional,
        now,
    )
    .map_err(|invalid| format!("the interaction is invalid:\n{}", describe(&invalid)))?;
    let standard = match standard {
        Some(path) => read_message(path, "servscore.v1.Standard")?,
        None => crate::builtin::default_standard(),
    };
    let standard = crate::convert::standard::from_proto(&standard, "standard")
        .map_err(|invalid| format!("the standard is invalid:\n{}", describe(&invalid)))?;
    let team = match team {
        Some(path) => {
            let message: pb::Team = read_message(path, "servscore.v1.Team")?;
            crate::convert::team::from_proto(&message, "team")
                .map_err(|invalid| format!("the team is invalid:\n{}", describe(&invalid)))?
        }
        None => Team::default_team("UTC"),
    };
    let compiled = CompiledStandard::new(standard);
    let working_time = team.working_time();
    let team_id = if team.team_id.is_empty() {
        DEFAULT_TEAM_ID
    } else {
        &team.team_id
    };
    let scorecard = score(
        &interaction,
        &ScoringContext {
            standard: &compiled,
            working_time: &working_time,
            time_zone: &team.time_zone,
            team_id,
            evaluation_time: now,
        },
    );
    Ok(json::to_json(
        "servscore.v1.Scorecard",
        &crate::convert::scorecard::to_proto(&scorecard),
    ))
}
