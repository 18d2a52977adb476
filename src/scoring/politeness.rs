//! Politeness (礼貌): require, respond and forbid rules over the text of turns.

use super::Facts;
use super::matcher::PhraseMatch;
use crate::domain::interaction::Speaker;
use crate::domain::points::Points;
use crate::domain::scorecard::{Dimension, Evidence, Finding};
use crate::domain::standard::{ForbidRule, RequireRule, RespondRule, TurnWindow};

/// The politeness dimension's result.
pub struct PolitenessResult {
    /// The score; `None` when no staff turn has text or there is no rule.
    pub score: Option<Points>,
    /// Why it does not apply.
    pub not_applicable_reason: &'static str,
    /// Deductions (and critical findings).
    pub findings: Vec<Finding>,
}

/// Why politeness does not apply: no staff turn has text.
pub const NO_STAFF_TEXT: &str = "no staff turn has text";
/// Why politeness does not apply: the cell has no politeness rule.
pub const NO_RULE: &str = "the standard has no politeness rule for this cell";
/// Why politeness does not apply, when carried over from a scorecard that gave another reason.
pub const NOT_APPLICABLE_BEFORE: &str = "politeness did not apply when the transcript was scored";

/// The reason of a stored scorecard, as one of the reasons above.
pub fn known_reason(reason: &str) -> &'static str {
    [NO_STAFF_TEXT, NO_RULE]
        .into_iter()
        .find(|known| *known == reason)
        .unwrap_or(NOT_APPLICABLE_BEFORE)
}

/// Scores politeness over the text of the turns.
pub fn score(facts: &Facts<'_>) -> PolitenessResult {
    let rules = &facts.rules.politeness;
    let staff_text_turns: Vec<usize> = facts
        .conversation
        .staff_turns
        .iter()
        .copied()
        .filter(|&index| !facts.interaction.turns[index].text.trim().is_empty())
        .collect();
    if staff_text_turns.is_empty() {
        return not_applicable(NO_STAFF_TEXT);
    }
    if rules.is_empty() {
        return not_applicable(NO_RULE);
    }
    let mut findings = Vec::new();
    for rule in &rules.require {
        require(facts, rule, &staff_text_turns, &mut findings);
    }
    for rule in &rules.respond {
        respond(facts, rule, &staff_text_turns, &mut findings);
    }
    for rule in &rules.forbid {
        forbid(facts, rule, &staff_text_turns, &mut findings);
    }
    let deducted: Points = findings.iter().map(|finding| finding.points).sum();
    PolitenessResult {
        score: Some(Points::HUNDRED.saturating_deduct(deducted)),
        not_applicable_reason: "",
        findings,
    }
}

fn not_applicable(reason: &'static str) -> PolitenessResult {
    PolitenessResult {
        score: None,
        not_applicable_reason: reason,
        findings: Vec::new(),
    }
}

fn matches_of<'f>(
    facts: &'f Facts<'_>,
    turn: usize,
    set: usize,
) -> impl Iterator<Item = &'f PhraseMatch> {
    facts.matches[turn]
        .iter()
        .filter(move |found| found.set == set)
}

fn text_evidence(facts: &Facts<'_>, turn_index: usize, found: &PhraseMatch) -> Evidence {
    let set = &facts.standard.phrase_sets[found.set];
    Evidence::Text {
        turn_index,
        start: found.start,
        end: found.end,
        snippet: found.snippet.clone(),
        phrase_set_id: set.id.clone(),
        phrase: set.phrases[found.phrase].text.clone(),
    }
}

fn require(
    facts: &Facts<'_>,
    rule: &RequireRule,
    staff_text_turns: &[usize],
    findings: &mut Vec<Finding>,
) {
    if rule.only_when_resolved && !facts.resolved {
        return;
    }
    let window: &[usize] = match rule.window {
        TurnWindow::FirstStaffTurns(count) => {
            &staff_text_turns[..staff_text_turns.len().min(count as usize)]
        }
        TurnWindow::LastStaffTurns(count) => {
            &staff_text_turns[staff_text_turns.len().saturating_sub(count as usize)..]
        }
        TurnWindow::AnyStaffTurn => staff_text_turns,
    };
    if window
        .iter()
        .any(|&turn| matches_of(facts, turn, rule.phrase_set).next().is_some())
    {
        return;
    }
    let set_id = &facts.standard.phrase_sets[rule.phrase_set].id;
    let where_ = match rule.window {
        TurnWindow::FirstStaffTurns(1) => "the first staff turn".to_owned(),
        TurnWindow::FirstStaffTurns(count) => format!("the first {count} staff turns"),
        TurnWindow::LastStaffTurns(1) => "the last staff turn".to_owned(),
        TurnWindow::LastStaffTurns(count) => format!("the last {count} staff turns"),
        TurnWindow::AnyStaffTurn => "any staff turn".to_owned(),
    };
    findings.push(Finding {
        rule_id: rule.id.clone(),
        dimension: Dimension::Politeness,
        points: rule.points,
        critical: false,
        sla_breach: false,
        message: format!("no phrase of \"{set_id}\" in {where_}"),
        evidence: Evidence::Turns {
            turn_indexes: window.to_vec(),
            phrase_set_id: set_id.clone(),
        },
    });
}

fn respond(
    facts: &Facts<'_>,
    rule: &RespondRule,
    staff_text_turns: &[usize],
    findings: &mut Vec<Finding>,
) {
    for (index, turn) in facts.interaction.turns.iter().enumerate() {
        if turn.speaker != Speaker::Customer {
            continue;
        }
        let Some(trigger) = matches_of(facts, index, rule.trigger_set).next() else {
            continue;
        };
        let following = staff_text_turns.partition_point(|&staff| staff < index);
        let window = &staff_text_turns[following..];
        let window = &window[..window.len().min(rule.within_staff_turns as usize)];
        if window
            .iter()
            .any(|&staff| matches_of(facts, staff, rule.response_set).next().is_some())
        {
            continue;
        }
        if window.len() < rule.within_staff_turns as usize && !facts.resolved {
            // The conversation goes on: a response can still come.
            continue;
        }
        let trigger_set = &facts.standard.phrase_sets[rule.trigger_set].id;
        let response_set = &facts.standard.phrase_sets[rule.response_set].id;
        findings.push(Finding {
            rule_id: rule.id.clone(),
            dimension: Dimension::Politeness,
            points: rule.points,
            critical: false,
            sla_breach: false,
            message: format!(
                "customer turn {index} matched \"{trigger_set}\" but none of the next {} staff turns matched \"{response_set}\"",
                rule.within_staff_turns
            ),
            evidence: text_evidence(facts, index, trigger),
        });
    }
}

fn forbid(
    facts: &Facts<'_>,
    rule: &ForbidRule,
    staff_text_turns: &[usize],
    findings: &mut Vec<Finding>,
) {
    let set = &facts.standard.phrase_sets[rule.phrase_set];
    for &turn in staff_text_turns {
        let hits: Vec<&PhraseMatch> = matches_of(facts, turn, rule.phrase_set).collect();
        for (position, hit) in hits.iter().enumerate() {
            // A hit inside a longer hit of the same rule ("滚" in "滚开") counts once, and so
            // does the same span matched by two phrases.
            let covered = hits.iter().enumerate().any(|(other_position, other)| {
                let contains = other.start <= hit.start && hit.end <= other.end;
                let same_span = other.start == hit.start && other.end == hit.end;
                contains && (!same_span || other_position < position)
            });
            if covered {
                continue;
            }
            let phrase = &set.phrases[hit.phrase];
            let points = phrase.points.unwrap_or(rule.points);
            findings.push(Finding {
                rule_id: rule.id.clone(),
                dimension: Dimension::Politeness,
                points,
                critical: phrase.critical,
                sla_breach: false,
                message: if phrase.critical {
                    format!(
                        "critical phrase of \"{}\" used by staff: the scorecard fails",
                        set.id
                    )
                } else {
                    format!("forbidden phrase of \"{}\" used by staff", set.id)
                },
                evidence: text_evidence(facts, turn, hit),
            });
        }
    }
}
