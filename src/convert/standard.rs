//! `proto::v1::Standard` to the domain: validated in full (every bad field named), with each
//! cell's effective rules resolved from the base.

use std::collections::{HashMap, HashSet};

use jiff::SignedDuration;

use super::interaction::{channel, tier};
use super::{InvalidArgument, Violations, duration};
use crate::domain::interaction::{Channel, Tier};
use crate::domain::points::{Points, Weight};
use crate::domain::standard::{
    Cell, CellRules, ComplaintLoopRule, DimensionWeights, FollowThroughRules, ForbidRule,
    GradeThresholds, MetricTarget, Phrase, PhraseSet, PolitenessRules, RequireRule, RespondRule,
    ServiceLevels, SpeedRules, Standard, TurnWindow,
};
use crate::proto::v1 as pb;
use crate::scoring::matcher::normalize_phrase;

const MAX_PHRASE_SETS: usize = 1_000;
const MAX_PHRASES: usize = 100_000;
const MAX_PHRASE_CHARS: usize = 200;
const MAX_RULES: usize = 1_000;
const MAX_TURN_COUNT: u32 = 100;
const MAX_DESCRIPTION_CHARS: usize = 2_000;

/// Validates and converts a standard; `field` is its path in the request.
pub fn from_proto(message: &pb::Standard, field: &str) -> Result<Standard, InvalidArgument> {
    let mut violations = Violations::default();
    violations.check_name(&format!("{field}.standard_id"), &message.standard_id);
    if message.description.chars().count() > MAX_DESCRIPTION_CHARS {
        violations.add(
            format!("{field}.description"),
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        );
    }
    let phrase_sets = phrase_sets(&mut violations, message, field);
    let set_index: HashMap<&str, usize> = phrase_sets
        .iter()
        .enumerate()
        .map(|(index, set)| (set.id.as_str(), index))
        .collect();
    let mut checker = RulesChecker {
        violations,
        set_index,
    };

    let base = message
        .base
        .as_ref()
        .map(|base| checker.rules(base, &format!("{field}.base")))
        .unwrap_or_default();

    if message.cells.is_empty() {
        checker
            .violations
            .add(format!("{field}.cells"), "at least one cell is required");
    }
    let mut cells = Vec::with_capacity(message.cells.len());
    let mut coverage: HashMap<(Tier, Channel), Vec<usize>> = HashMap::new();
    let mut cell_ids = HashSet::new();
    for (index, cell) in message.cells.iter().enumerate() {
        let path = format!("{field}.cells[{index}]");
        checker
            .violations
            .check_id(format!("{path}.cell_id"), &cell.cell_id, true, 128);
        if !cell.cell_id.is_empty() && !cell_ids.insert(cell.cell_id.as_str()) {
            checker
                .violations
                .add(format!("{path}.cell_id"), "is used by an earlier cell");
        }
        let tiers = checker.selector(&cell.tiers, &format!("{path}.tiers"), tier, &Tier::ALL);
        let channels = checker.selector(
            &cell.channels,
            &format!("{path}.channels"),
            channel,
            &Channel::ALL,
        );
        for &tier in &tiers {
            for &channel in &channels {
                coverage.entry((tier, channel)).or_default().push(index);
            }
        }
        let own = cell
            .rules
            .as_ref()
            .map(|rules| checker.rules(rules, &format!("{path}.rules")))
            .unwrap_or_default();
        let merged = own.over(&base);
        let (Some(weights), Some(thresholds)) = (merged.weights, merged.thresholds) else {
            if merged.weights.is_none() {
                checker.violations.add(
                    format!("{path}.rules.weights"),
                    "is required, on the cell or in the standard's base",
                );
            }
            if merged.thresholds.is_none() {
                checker.violations.add(
                    format!("{path}.rules.thresholds"),
                    "is required, on the cell or in the standard's base",
                );
            }
            continue;
        };
        cells.push(Cell {
            id: cell.cell_id.clone(),
            rules: CellRules {
                service_levels: merged.service_levels.unwrap_or_default(),
                speed: merged.speed.unwrap_or_default(),
                politeness: merged.politeness.unwrap_or_default(),
                follow_through: merged.follow_through.unwrap_or_default(),
                weights,
                thresholds,
            },
        });
    }

    let mut cell_index = [[0_usize; Channel::ALL.len()]; Tier::ALL.len()];
    for tier in Tier::ALL {
        for channel in Channel::ALL {
            match coverage.get(&(tier, channel)).map(Vec::as_slice) {
                Some([only]) => cell_index[tier as usize][channel as usize] = *only,
                Some(several) => checker.violations.add(
                    format!("{field}.cells"),
                    format!(
                        "{tier:?} × {channel:?} is covered by several cells ({}): each pair must be covered exactly once",
                        several
                            .iter()
                            .map(|index| format!("cells[{index}]"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                None if !message.cells.is_empty() => checker.violations.add(
                    format!("{field}.cells"),
                    format!("{tier:?} × {channel:?} is not covered by any cell"),
                ),
                None => {}
            }
        }
    }

    checker.violations.into_result(Standard {
        standard_id: message.standard_id.clone(),
        version: message.version,
        phrase_sets,
        cells,
        cell_index,
        create_time: message
            .create_time
            .as_ref()
            .and_then(|time| jiff::Timestamp::new(time.seconds, time.nanos).ok()),
    })
}

fn phrase_sets(violations: &mut Violations, message: &pb::Standard, field: &str) -> Vec<PhraseSet> {
    if message.phrase_sets.len() > MAX_PHRASE_SETS {
        violations.add(
            format!("{field}.phrase_sets"),
            format!("at most {MAX_PHRASE_SETS} phrase sets are accepted"),
        );
    }
    let total: usize = message
        .phrase_sets
        .iter()
        .map(|set| set.phrases.len())
        .sum();
    if total > MAX_PHRASES {
        violations.add(
            format!("{field}.phrase_sets"),
            format!("at most {MAX_PHRASES} phrases in all are accepted"),
        );
    }
    let mut ids = HashSet::new();
    let mut sets = Vec::with_capacity(message.phrase_sets.len());
    for (set_index, set) in message.phrase_sets.iter().enumerate() {
        let path = format!("{field}.phrase_sets[{set_index}]");
        violations.check_id(
            format!("{path}.phrase_set_id"),
            &set.phrase_set_id,
            true,
            128,
        );
        if !set.phrase_set_id.is_empty() && !ids.insert(set.phrase_set_id.as_str()) {
            violations.add(
                format!("{path}.phrase_set_id"),
                "is used by an earlier phrase set",
            );
        }
        if set.phrases.is_empty() {
            violations.add(format!("{path}.phrases"), "at least one phrase is required");
        }
        let mut phrases = Vec::with_capacity(set.phrases.len());
        for (phrase_index, phrase) in set.phrases.iter().enumerate() {
            let phrase_path = format!("{path}.phrases[{phrase_index}]");
            if phrase.text.chars().count() > MAX_PHRASE_CHARS {
                violations.add(
                    format!("{phrase_path}.text"),
                    format!("must be at most {MAX_PHRASE_CHARS} characters"),
                );
            } else if normalize_phrase(&phrase.text).is_empty() {
                violations.add(format!("{phrase_path}.text"), "must not be empty or blank");
            }
            if phrase.language.chars().count() > 35 {
                violations.add(
                    format!("{phrase_path}.language"),
                    "must be a BCP 47 tag of at most 35 characters",
                );
            }
            let points = points(violations, &format!("{phrase_path}.points"), phrase.points);
            phrases.push(Phrase {
                text: phrase.text.clone(),
                critical: phrase.critical,
                points: (points > Points::ZERO).then_some(points),
            });
        }
        sets.push(PhraseSet {
            id: set.phrase_set_id.clone(),
            phrases,
        });
    }
    sets
}

/// Points of a rule: 0–100 with at most two decimals' precision kept.
fn points(violations: &mut Violations, field: &str, value: f64) -> Points {
    match Points::from_f64(value) {
        Some(points) if (Points::ZERO..=Points::HUNDRED).contains(&points) => points,
        _ => {
            violations.add(field, "must be between 0 and 100");
            Points::ZERO
        }
    }
}

/// The sections of a cell's rules that were set.
#[derive(Debug, Default, Clone)]
struct PartialRules {
    service_levels: Option<ServiceLevels>,
    speed: Option<SpeedRules>,
    politeness: Option<PolitenessRules>,
    follow_through: Option<FollowThroughRules>,
    weights: Option<DimensionWeights>,
    thresholds: Option<GradeThresholds>,
}

impl PartialRules {
    /// These sections laid over `base`.
    fn over(self, base: &PartialRules) -> PartialRules {
        PartialRules {
            service_levels: self.service_levels.or(base.service_levels),
            speed: self.speed.or(base.speed),
            politeness: self.politeness.or_else(|| base.politeness.clone()),
            follow_through: self.follow_through.or(base.follow_through),
            weights: self.weights.or(base.weights),
            thresholds: self.thresholds.or(base.thresholds),
        }
    }
}

struct RulesChecker<'a> {
    violations: Violations,
    set_index: HashMap<&'a str, usize>,
}

impl RulesChecker<'_> {
    fn selector<T: Copy + PartialEq>(
        &mut self,
        values: &[i32],
        field: &str,
        convert: fn(i32) -> Option<T>,
        all: &[T],
    ) -> Vec<T> {
        if values.is_empty() {
            return all.to_vec();
        }
        let mut selected = Vec::with_capacity(values.len());
        for (index, &value) in values.iter().enumerate() {
            match convert(value) {
                Some(item) if selected.contains(&item) => {
                    self.violations
                        .add(format!("{field}[{index}]"), "is listed twice");
                }
                Some(item) => selected.push(item),
                None => self.violations.add(
                    format!("{field}[{index}]"),
                    format!("unknown or unspecified value {value}"),
                ),
            }
        }
        selected
    }

    fn rules(&mut self, rules: &pb::CellRules, path: &str) -> PartialRules {
        PartialRules {
            service_levels: rules.service_levels.as_ref().map(|levels| ServiceLevels {
                answer_every_question: levels.answer_every_question,
                keep_communicating: levels.keep_communicating,
                dedicated_owner: levels.dedicated_owner,
                exceed_expectations: levels.exceed_expectations,
            }),
            speed: rules
                .speed
                .as_ref()
                .map(|speed| self.speed(speed, &format!("{path}.speed"))),
            politeness: rules
                .politeness
                .as_ref()
                .map(|politeness| self.politeness(politeness, &format!("{path}.politeness"))),
            follow_through: rules
                .follow_through
                .as_ref()
                .map(|rules| self.follow_through(rules, &format!("{path}.follow_through"))),
            weights: rules
                .weights
                .as_ref()
                .map(|weights| self.weights(weights, &format!("{path}.weights"))),
            thresholds: rules
                .thresholds
                .as_ref()
                .map(|thresholds| self.thresholds(thresholds, &format!("{path}.thresholds"))),
        }
    }

    fn speed(&mut self, speed: &pb::SpeedRules, path: &str) -> SpeedRules {
        let mut metric = |value: &Option<pb::MetricTarget>, name: &str| -> Option<MetricTarget> {
            let value = value.as_ref()?;
            let field = format!("{path}.{name}");
            let target = match &value.target {
                Some(target) => duration(&mut self.violations, &format!("{field}.target"), target),
                None => {
                    self.violations
                        .add(format!("{field}.target"), "is required");
                    None
                }
            };
            let limit = match &value.limit {
                Some(limit) => duration(&mut self.violations, &format!("{field}.limit"), limit),
                None => {
                    self.violations.add(format!("{field}.limit"), "is required");
                    None
                }
            };
            let weight = Weight::from_f64(value.weight).filter(|weight| weight.0 > 0);
            if weight.is_none() {
                self.violations.add(
                    format!("{field}.weight"),
                    "must be a positive number (at most 1000000)",
                );
            }
            let (target, limit, weight) = (target?, limit?, weight?);
            if limit <= target {
                self.violations
                    .add(format!("{field}.limit"), "must be greater than the target");
                return None;
            }
            Some(MetricTarget {
                target,
                limit,
                weight,
            })
        };
        SpeedRules {
            first_reply: metric(&speed.first_reply, "first_reply"),
            next_reply: metric(&speed.next_reply, "next_reply"),
            periodic_update: metric(&speed.periodic_update, "periodic_update"),
            resolution: metric(&speed.resolution, "resolution"),
        }
    }

    fn phrase_set(&mut self, field: &str, id: &str) -> usize {
        match self.set_index.get(id) {
            Some(&index) => index,
            None => {
                if id.is_empty() {
                    self.violations.add(field, "is required");
                } else {
                    self.violations
                        .add(field, format!("no phrase set \"{id}\" in this standard"));
                }
                0
            }
        }
    }

    fn rule_id(&mut self, field: &str, id: &str, seen: &mut HashSet<String>) {
        self.violations.check_id(field, id, true, 128);
        if ["speed.", "follow_through.", "satisfaction."]
            .iter()
            .any(|prefix| id.starts_with(prefix))
        {
            self.violations
                .add(field, "must not use a built-in rule id prefix");
        }
        if !id.is_empty() && !seen.insert(id.to_owned()) {
            self.violations
                .add(field, "is used by another rule of this section");
        }
    }

    fn politeness(&mut self, politeness: &pb::PolitenessRules, path: &str) -> PolitenessRules {
        if politeness.require.len() + politeness.respond.len() + politeness.forbid.len() > MAX_RULES
        {
            self.violations
                .add(path, format!("at most {MAX_RULES} rules are accepted"));
        }
        let mut seen = HashSet::new();
        let mut rules = PolitenessRules::default();
        for (index, rule) in politeness.require.iter().enumerate() {
            let field = format!("{path}.require[{index}]");
            self.rule_id(&format!("{field}.rule_id"), &rule.rule_id, &mut seen);
            let phrase_set =
                self.phrase_set(&format!("{field}.phrase_set_id"), &rule.phrase_set_id);
            let count = self.turn_count(&format!("{field}.turn_count"), rule.turn_count);
            let window = match pb::TurnWindow::try_from(rule.window) {
                Ok(pb::TurnWindow::FirstStaffTurns) => TurnWindow::FirstStaffTurns(count),
                Ok(pb::TurnWindow::LastStaffTurns) => TurnWindow::LastStaffTurns(count),
                Ok(pb::TurnWindow::AnyStaffTurn) => TurnWindow::AnyStaffTurn,
                _ => {
                    self.violations.add(
                        format!("{field}.window"),
                        "is required (TURN_WINDOW_FIRST_STAFF_TURNS, _LAST_STAFF_TURNS or _ANY_STAFF_TURN)",
                    );
                    TurnWindow::AnyStaffTurn
                }
            };
            rules.require.push(RequireRule {
                id: rule.rule_id.clone(),
                phrase_set,
                window,
                points: points(
                    &mut self.violations,
                    &format!("{field}.points"),
                    rule.points,
                ),
                only_when_resolved: rule.only_when_resolved,
            });
        }
        for (index, rule) in politeness.respond.iter().enumerate() {
            let field = format!("{path}.respond[{index}]");
            self.rule_id(&format!("{field}.rule_id"), &rule.rule_id, &mut seen);
            rules.respond.push(RespondRule {
                id: rule.rule_id.clone(),
                trigger_set: self.phrase_set(
                    &format!("{field}.trigger_phrase_set_id"),
                    &rule.trigger_phrase_set_id,
                ),
                response_set: self.phrase_set(
                    &format!("{field}.response_phrase_set_id"),
                    &rule.response_phrase_set_id,
                ),
                within_staff_turns: self.turn_count(
                    &format!("{field}.within_staff_turns"),
                    rule.within_staff_turns,
                ),
                points: points(
                    &mut self.violations,
                    &format!("{field}.points"),
                    rule.points,
                ),
            });
        }
        for (index, rule) in politeness.forbid.iter().enumerate() {
            let field = format!("{path}.forbid[{index}]");
            self.rule_id(&format!("{field}.rule_id"), &rule.rule_id, &mut seen);
            rules.forbid.push(ForbidRule {
                id: rule.rule_id.clone(),
                phrase_set: self.phrase_set(&format!("{field}.phrase_set_id"), &rule.phrase_set_id),
                points: points(
                    &mut self.violations,
                    &format!("{field}.points"),
                    rule.points,
                ),
            });
        }
        rules
    }

    fn turn_count(&mut self, field: &str, value: u32) -> u32 {
        if value > MAX_TURN_COUNT {
            self.violations
                .add(field, format!("must be at most {MAX_TURN_COUNT}"));
        }
        value.clamp(1, MAX_TURN_COUNT)
    }

    fn follow_through(&mut self, rules: &pb::FollowThroughRules, path: &str) -> FollowThroughRules {
        let commitment_late_limit = rules
            .commitment_late_limit
            .as_ref()
            .and_then(|limit| {
                duration(
                    &mut self.violations,
                    &format!("{path}.commitment_late_limit"),
                    limit,
                )
            })
            .unwrap_or(SignedDuration::ZERO);
        let complaint_loop = rules.complaint_loop.as_ref().map(|rule| {
            let field = format!("{path}.complaint_loop");
            let callback_window = match &rule.callback_window {
                Some(window) => duration(
                    &mut self.violations,
                    &format!("{field}.callback_window"),
                    window,
                ),
                None => None,
            }
            .filter(|window| window.is_positive());
            if callback_window.is_none() {
                self.violations.add(
                    format!("{field}.callback_window"),
                    "is required and must be positive",
                );
            }
            ComplaintLoopRule {
                resolution_missing_points: points(
                    &mut self.violations,
                    &format!("{field}.resolution_missing_points"),
                    rule.resolution_missing_points,
                ),
                confirmation_missing_points: points(
                    &mut self.violations,
                    &format!("{field}.confirmation_missing_points"),
                    rule.confirmation_missing_points,
                ),
                callback_missing_points: points(
                    &mut self.violations,
                    &format!("{field}.callback_missing_points"),
                    rule.callback_missing_points,
                ),
                callback_window: callback_window.unwrap_or(SignedDuration::ZERO),
            }
        });
        FollowThroughRules {
            commitment_late_limit,
            unanswered_points: points(
                &mut self.violations,
                &format!("{path}.unanswered_points"),
                rules.unanswered_points,
            ),
            complaint_loop,
            hand_off_points: points(
                &mut self.violations,
                &format!("{path}.hand_off_points"),
                rules.hand_off_points,
            ),
            reopen_points: points(
                &mut self.violations,
                &format!("{path}.reopen_points"),
                rules.reopen_points,
            ),
        }
    }

    fn weights(&mut self, weights: &pb::DimensionWeights, path: &str) -> DimensionWeights {
        let mut weight = |value: f64, name: &str| {
            Weight::from_f64(value).unwrap_or_else(|| {
                self.violations.add(
                    format!("{path}.{name}"),
                    "must be a non-negative number (at most 1000000)",
                );
                Weight(0)
            })
        };
        let result = DimensionWeights {
            politeness: weight(weights.politeness, "politeness"),
            speed: weight(weights.speed, "speed"),
            follow_through: weight(weights.follow_through, "follow_through"),
        };
        if result.politeness.0 + result.speed.0 + result.follow_through.0 == 0 {
            self.violations
                .add(path, "at least one weight must be positive");
        }
        result
    }

    fn thresholds(&mut self, thresholds: &pb::GradeThresholds, path: &str) -> GradeThresholds {
        let pass = points(
            &mut self.violations,
            &format!("{path}.pass"),
            thresholds.pass,
        );
        let excellent = points(
            &mut self.violations,
            &format!("{path}.excellent"),
            thresholds.excellent,
        );
        if excellent < pass {
            self.violations.add(
                format!("{path}.excellent"),
                "must be at least the pass threshold",
            );
        }
        GradeThresholds { pass, excellent }
    }
}
