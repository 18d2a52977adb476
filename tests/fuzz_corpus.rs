//! The fuzz corpus as a regression suite: every file of `fuzz/corpus/<target>/` goes through
//! the same library function the cargo-fuzz target calls (`servscore::fuzzing`), so an input
//! that once crashed a target, added to the corpus, fails `cargo test` if it crashes again.
//!
//! The seed files (`seed-*`) are written by the ignored test `generate_seed_corpus`, from the
//! examples, the built-in standard, the benchmark corpus generator and hand-made edge cases:
//!
//! ```sh
//! cargo test --test fuzz_corpus -- --ignored generate_seed_corpus
//! ```
//!
//! It replaces every `seed-*` file and leaves other files (inputs found by fuzzing) alone.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use prost::Message;
use servscore::convert::json;
use servscore::corpus::{Corpus, CorpusOptions};
use servscore::fuzzing::{self, Outcome};
use servscore::proto::v1 as pb;

type Target = fn(&[u8]) -> Outcome;

const TARGETS: [(&str, Target); 2] = [
    ("score_interaction", fuzzing::score_interaction),
    ("validate_standard", fuzzing::validate_standard),
];

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Replays one corpus; returns the outcome of every file by name, or panics naming every file
/// that panicked.
fn replay(target: &str, run: Target) -> BTreeMap<String, Outcome> {
    let mut outcomes = BTreeMap::new();
    let mut failures = Vec::new();
    for path in corpus_files(target) {
        let data = std::fs::read(&path).expect("a readable corpus file");
        let name = path
            .file_name()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        match catch_unwind(AssertUnwindSafe(|| run(&data))) {
            Ok(outcome) => {
                outcomes.insert(name, outcome);
            }
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)")
                    .to_owned();
                failures.push(format!("{}: {message}", path.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{target}: {} corpus file(s) panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
    outcomes
}

fn assert_covers_every_outcome(target: &str, outcomes: &BTreeMap<String, Outcome>) {
    assert!(
        outcomes.len() >= 20,
        "{target}: only {} corpus files",
        outcomes.len()
    );
    for wanted in [Outcome::Undecodable, Outcome::Rejected, Outcome::Accepted] {
        assert!(
            outcomes.values().any(|&outcome| outcome == wanted),
            "{target}: no corpus file is {wanted:?}: {outcomes:?}"
        );
    }
}

#[test]
fn the_score_interaction_corpus_replays_without_a_panic() {
    let outcomes = replay(TARGETS[0].0, TARGETS[0].1);
    assert_covers_every_outcome(TARGETS[0].0, &outcomes);
    // The README's example is a valid request: if it stopped scoring, the corpus would no
    // longer reach the scoring code.
    for name in [
        "seed-example-complaint-chat",
        "seed-example-inline-default-standard",
        "seed-example-shanghai-hours",
        "seed-corpus-00",
    ] {
        assert_eq!(outcomes.get(name), Some(&Outcome::Accepted), "{name}");
    }
    assert_eq!(outcomes.get("seed-invalid-enums"), Some(&Outcome::Rejected));
}

#[test]
fn the_validate_standard_corpus_replays_without_a_panic() {
    let outcomes = replay(TARGETS[1].0, TARGETS[1].1);
    assert_covers_every_outcome(TARGETS[1].0, &outcomes);
    for name in [
        "seed-default",
        "seed-test-standard",
        "seed-cell-per-pair",
        "seed-rules-in-base",
        "seed-phrases-unicode",
    ] {
        assert_eq!(outcomes.get(name), Some(&Outcome::Accepted), "{name}");
    }
    assert_eq!(outcomes.get("seed-no-cells"), Some(&Outcome::Rejected));
    // The fuzzer's weights-overflow finding, fixed: the maximum weights are valid and scored,
    // and the minimized crash input (replayed above) no longer panics.
    assert_eq!(
        outcomes.get("seed-weights-at-maximum"),
        Some(&Outcome::Accepted)
    );
    assert!(outcomes.contains_key("crash-weights-overflow-minimized"));
}

// ---------------------------------------------------------------------------------------------
// The seed generator.
// ---------------------------------------------------------------------------------------------

/// Writes the seed corpus of both targets (see the module docs).
#[test]
#[ignore = "writes fuzz/corpus: run it by hand after changing the generator"]
fn generate_seed_corpus() {
    for (target, seeds) in [
        ("score_interaction", score_interaction_seeds()),
        ("validate_standard", validate_standard_seeds()),
    ] {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).expect("the corpus directory");
        for path in corpus_files(target) {
            if path
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("seed-"))
            {
                std::fs::remove_file(&path).expect("a stale seed removed");
            }
        }
        let mut total = 0;
        for (name, bytes) in &seeds {
            assert!(name.starts_with("seed-"), "{name}");
            total += bytes.len();
            std::fs::write(dir.join(name), bytes).expect("a seed written");
        }
        println!("{target}: {} seeds, {total} bytes", seeds.len());
    }
}

fn manifest_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

fn at(text: &str) -> prost_types::Timestamp {
    let instant: Timestamp = text.parse().expect("a valid instant");
    servscore::convert::timestamp_to_proto(instant)
}

fn seconds(seconds: i64, nanos: i32) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos })
}

fn turn(speaker: pb::Speaker, when: &str, text: &str) -> pb::Turn {
    pb::Turn {
        speaker: speaker as i32,
        staff_id: String::new(),
        at: Some(at(when)),
        text: text.to_owned(),
    }
}

fn example_interaction() -> pb::Interaction {
    let request: pb::ScoreInteractionRequest = json::from_json(
        "servscore.v1.ScoreInteractionRequest",
        &manifest_file("examples/score-complaint-chat.json"),
    )
    .expect("the example request parses");
    request.interaction.expect("the example has an interaction")
}

fn default_standard() -> pb::Standard {
    servscore::builtin::default_standard()
}

fn test_standard() -> pb::Standard {
    json::from_toml(
        "servscore.v1.Standard",
        &manifest_file("tests/data/test-standard.toml"),
    )
    .expect("the test standard parses")
}

/// A preview of `interaction` at the README's evaluation time.
fn preview(interaction: pb::Interaction) -> pb::PreviewScoreRequest {
    pb::PreviewScoreRequest {
        interaction: Some(interaction),
        evaluation_time: Some(at("2026-11-23T03:00:00Z")),
        ..Default::default()
    }
}

fn score_interaction_seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>| seeds.push((format!("seed-{name}"), bytes));
    let example = example_interaction();
    let example_bytes = preview(example.clone()).encode_to_vec();

    // Real inputs: the README's example, in every way a request can carry it.
    add("example-complaint-chat", example_bytes.clone());
    add(
        "example-score-interaction-request",
        pb::ScoreInteractionRequest {
            interaction: Some(example.clone()),
        }
        .encode_to_vec(),
    );
    for team_id in fuzzing::FIXTURE_TEAMS {
        let mut request = preview(example.clone());
        request.team_id = team_id.to_owned();
        add(&format!("example-{team_id}"), request.encode_to_vec());
    }
    let mut request = preview(example.clone());
    request.team_id = "no-such-team".to_owned();
    add("team-unknown", request.encode_to_vec());
    let mut request = preview(example.clone());
    request.standard = Some(default_standard());
    add("example-inline-default-standard", request.encode_to_vec());
    let mut request = preview(example.clone());
    request.standard = Some(test_standard());
    add("example-inline-test-standard", request.encode_to_vec());
    for (name, standard_id, version) in [
        ("standard-ref-default-latest", "default", 0),
        ("standard-ref-default-v1", "default", 1),
        ("standard-ref-default-v2", "default", 2),
        ("standard-ref-bad-id", "Not A Name!", -1),
    ] {
        let mut interaction = example.clone();
        interaction.standard = Some(pb::StandardRef {
            standard_id: standard_id.to_owned(),
            version,
        });
        add(name, preview(interaction).encode_to_vec());
    }

    // The benchmark corpus: every tier, channel and kind, Chinese, English and mixed.
    let corpus = Corpus::new(CorpusOptions::default());
    for index in 0..12 {
        let mut request = pb::PreviewScoreRequest {
            interaction: Some(corpus.interaction(index)),
            ..Default::default()
        };
        if index % 2 == 0 {
            request.evaluation_time =
                Some(servscore::convert::timestamp_to_proto(corpus.options().now));
        }
        if index % 3 == 1 {
            request.team_id = fuzzing::FIXTURE_TEAMS[0].to_owned();
        }
        add(&format!("corpus-{index:02}"), request.encode_to_vec());
    }
    add(
        "corpus-chat-16k",
        pb::PreviewScoreRequest {
            interaction: Some(corpus.chat_of_size(16 * 1024)),
            ..Default::default()
        }
        .encode_to_vec(),
    );

    // Broken bytes.
    add("empty", Vec::new());
    add(
        "truncated-half",
        example_bytes[..example_bytes.len() / 2].to_vec(),
    );
    add(
        "truncated-last-byte",
        example_bytes[..example_bytes.len() - 1].to_vec(),
    );
    // Field 1 (interaction) claiming a length of 2^63 - 1 bytes.
    add(
        "length-prefix-huge",
        vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
    );
    // Field 1 as a varint instead of a message.
    add("wrong-wire-type", vec![0x08, 0x01]);
    // Unknown fields 99 (varint) and 100 (bytes) after a valid request: ignored.
    let mut unknown = example_bytes.clone();
    unknown.extend([0x98, 0x06, 0x2a, 0xa2, 0x06, 0x03, b'a', b'b', b'c']);
    add("unknown-fields", unknown);

    // Counts at and over the limits.
    let opened = "2026-11-22T00:00:00Z";
    let many_turns = |count: usize| {
        let mut interaction = example.clone();
        interaction.opened_at = Some(at(opened));
        interaction.turns = (0..count)
            .map(|index| pb::Turn {
                speaker: if index % 2 == 0 {
                    pb::Speaker::Customer
                } else {
                    pb::Speaker::Staff
                } as i32,
                at: seconds(1_795_305_600 + index as i64, 0),
                text: if index % 2 == 0 { "?" } else { "您好" }.to_owned(),
                ..Default::default()
            })
            .collect();
        interaction
    };
    add("turns-at-limit", preview(many_turns(2_000)).encode_to_vec());
    add(
        "turns-over-limit",
        preview(many_turns(2_001)).encode_to_vec(),
    );
    let mut interaction = example.clone();
    interaction.turns[0].text = "a".repeat(20_000);
    add("turn-text-at-limit", preview(interaction).encode_to_vec());
    let mut interaction = example.clone();
    interaction.turns[0].text = "好".repeat(20_001);
    add("turn-text-over-limit", preview(interaction).encode_to_vec());
    let mut interaction = example.clone();
    interaction.turns[3].text = "这个不归我管，not my problem! ".repeat(60);
    add(
        "forbidden-phrase-repeated",
        preview(interaction).encode_to_vec(),
    );
    let mut interaction = example.clone();
    interaction.commitments = (0..201)
        .map(|index| pb::Commitment {
            commitment_id: format!("c{index}"),
            due_at: Some(at("2026-11-23T10:00:00Z")),
            ..Default::default()
        })
        .collect();
    add(
        "commitments-over-limit",
        preview(interaction).encode_to_vec(),
    );
    let mut interaction = example.clone();
    interaction.revision = i64::MAX;
    add("revision-max", preview(interaction).encode_to_vec());
    let mut interaction = example.clone();
    interaction.revision = -1;
    add("revision-negative", preview(interaction).encode_to_vec());
    let mut interaction = example.clone();
    interaction.revision = 0;
    add("revision-zero", preview(interaction).encode_to_vec());

    // Enums.
    let mut interaction = example.clone();
    interaction.tier = 99;
    interaction.channel = -1;
    interaction.kind = 42;
    interaction.initiator = 5;
    interaction.turns[0].speaker = 7;
    interaction.status_changes = vec![pb::StatusChange {
        status: 9,
        at: Some(at("2026-11-23T02:05:00Z")),
    }];
    add("invalid-enums", preview(interaction).encode_to_vec());
    let mut interaction = example.clone();
    interaction.tier = 0;
    interaction.channel = 0;
    interaction.kind = 0;
    interaction.turns[1].speaker = 0;
    add("unspecified-enums", preview(interaction).encode_to_vec());
    for (tier, channel) in [
        (pb::Tier::Small, pb::Channel::Email),
        (pb::Tier::Medium, pb::Channel::Phone),
        (pb::Tier::Large, pb::Channel::InPerson),
        (pb::Tier::Vip, pb::Channel::Sms),
    ] {
        let mut interaction = example.clone();
        interaction.tier = tier as i32;
        interaction.channel = channel as i32;
        interaction.initiator = pb::Initiator::Staff as i32;
        add(
            &format!(
                "cell-{}-{}",
                tier.as_str_name().to_lowercase(),
                channel.as_str_name().to_lowercase()
            ),
            preview(interaction).encode_to_vec(),
        );
    }

    // Unicode: full-width, compatibility forms, case folding that changes length, combining
    // marks, emoji sequences, right-to-left text, zero-width characters.
    let mut interaction = example.clone();
    let texts = [
        "ＮＯＴ ＭＹ ＰＲＯＢＬＥＭ，ｓｏｒｒｙ",
        "不归我管\u{0301}\u{0327} 不\u{200B}归我管",
        "İstanbul ß ﬁne ŉ ﬀ Ⅻ ㎏ ㍻ ＨＥＬＬＯ",
        "👩\u{200D}👩\u{200D}👧 🇨🇳 ❤\u{FE0F} \u{FEFF}hello\u{FEFF}",
        "مرحبا، شكرا لك \u{202E}reversed\u{202C} שלום",
        "안녕하세요 가 감사합니다 ｶﾞ ﾊﾟ",
    ];
    for (turn, text) in interaction.turns.iter_mut().zip(texts) {
        turn.text = text.to_owned();
    }
    add("unicode-text", preview(interaction).encode_to_vec());
    let mut interaction = example.clone();
    interaction.interaction_id = "互动-①\u{0000}\u{007F}".to_owned();
    interaction.staff_id = "x".repeat(129);
    interaction.customer_id = "\u{10FFFF}".to_owned();
    add("ids-odd", preview(interaction).encode_to_vec());

    // Timestamps at and beyond the ends of the range, in and out of order.
    let min = Timestamp::MIN.as_second();
    let max = Timestamp::MAX.as_second();
    let spread = |opened: i64, step: i64, evaluation: Option<prost_types::Timestamp>| {
        let mut interaction = example.clone();
        interaction.opened_at = seconds(opened, 0);
        for (index, turn) in interaction.turns.iter_mut().enumerate() {
            turn.at = seconds(opened + step * index as i64, 0);
        }
        interaction.commitments[0].due_at = seconds(opened + step * 8, 0);
        pb::PreviewScoreRequest {
            interaction: Some(interaction),
            evaluation_time: evaluation,
            ..Default::default()
        }
        .encode_to_vec()
    };
    add("timestamps-at-min", spread(min, 1, seconds(min + 60, 0)));
    add(
        "timestamps-near-max",
        spread(max - 100, 1, seconds(max, 999_999_999)),
    );
    add(
        "timestamps-min-to-max",
        spread(min, (max - min) / 10, seconds(max, 0)),
    );
    add(
        "timestamps-min-evaluated-now",
        spread(min, 86_400 * 365, None),
    );
    let mut interaction = example.clone();
    interaction.opened_at = seconds(i64::MAX, 0);
    interaction.turns[0].at = seconds(i64::MIN, 0);
    interaction.turns[1].at = seconds(0, -1);
    interaction.turns[2].at = seconds(0, 1_000_000_000);
    interaction.turns[3].at = None;
    let mut request = preview(interaction);
    request.evaluation_time = seconds(i64::MIN, i32::MIN);
    add("timestamps-out-of-range", request.encode_to_vec());
    let mut request = preview(example.clone());
    request.evaluation_time = seconds(i64::MAX, 0);
    add("evaluation-time-out-of-range", request.encode_to_vec());
    let mut interaction = example.clone();
    interaction.turns.swap(2, 3);
    interaction.turns[5].at = Some(at("2026-11-23T04:00:00Z"));
    add(
        "turns-out-of-order-and-future",
        preview(interaction).encode_to_vec(),
    );

    // Follow-through: status cycles, commitments, complaint loop, survey, hand-offs.
    let mut interaction = example.clone();
    interaction.status_changes = [
        (
            pb::InteractionStatus::PendingCustomer,
            "2026-11-23T02:05:00Z",
        ),
        (pb::InteractionStatus::Open, "2026-11-23T02:06:00Z"),
        (pb::InteractionStatus::OnHold, "2026-11-23T02:07:00Z"),
        (pb::InteractionStatus::Resolved, "2026-11-23T02:08:00Z"),
        (pb::InteractionStatus::Reopened, "2026-11-23T02:09:00Z"),
        (pb::InteractionStatus::Resolved, "2026-11-23T02:10:00Z"),
        (pb::InteractionStatus::Resolved, "2026-11-23T02:10:00Z"),
    ]
    .into_iter()
    .map(|(status, when)| pb::StatusChange {
        status: status as i32,
        at: Some(at(when)),
    })
    .collect();
    interaction.commitments = vec![
        pb::Commitment {
            commitment_id: "callback".to_owned(),
            description: "回电 ✆".to_owned(),
            due_at: Some(at("2026-11-23T02:30:00Z")),
            fulfilled_at: Some(at("2026-11-23T02:45:00Z")),
        },
        pb::Commitment {
            commitment_id: "refund".to_owned(),
            due_at: seconds(Timestamp::MIN.as_second(), 0),
            fulfilled_at: Some(at("2026-11-23T02:50:00Z")),
            ..Default::default()
        },
        pb::Commitment {
            commitment_id: "visit".to_owned(),
            due_at: seconds(Timestamp::MAX.as_second(), 0),
            ..Default::default()
        },
    ];
    interaction.complaint = Some(pb::ComplaintLoop {
        resolution_recorded_at: Some(at("2026-11-23T02:10:00Z")),
        resolution_summary: "换货 replaced".to_owned(),
        customer_confirmed_at: Some(at("2026-11-23T02:20:00Z")),
        callback_at: Some(at("2026-11-23T02:55:00Z")),
    });
    interaction.survey = Some(pb::Survey {
        expectation: 5,
        perception: 5,
        answered_at: Some(at("2026-11-23T02:58:00Z")),
    });
    interaction.turns[3].staff_id = "bob".to_owned();
    interaction.turns[5].staff_id = "carol".to_owned();
    add(
        "follow-through-everything",
        preview(interaction).encode_to_vec(),
    );
    let mut interaction = example.clone();
    interaction
        .commitments
        .push(interaction.commitments[0].clone());
    interaction.commitments[0].commitment_id = String::new();
    interaction.survey = Some(pb::Survey {
        expectation: 0,
        perception: i32::MIN,
        answered_at: seconds(i64::MAX, 0),
    });
    interaction.turns[0].staff_id = "alice".to_owned();
    interaction.complaint = Some(pb::ComplaintLoop {
        resolution_summary: "x".repeat(20_001),
        callback_at: seconds(-1, -5),
        ..Default::default()
    });
    add(
        "follow-through-invalid",
        preview(interaction).encode_to_vec(),
    );
    let mut interaction = example.clone();
    interaction.kind = pb::InteractionKind::Complaint as i32;
    interaction.turns = vec![
        turn(
            pb::Speaker::Customer,
            "2026-11-23T02:00:00Z",
            "I want to file a complaint!",
        ),
        turn(pb::Speaker::System, "2026-11-23T02:00:01Z", "transferred"),
    ];
    interaction.commitments.clear();
    add("complaint-unanswered", preview(interaction).encode_to_vec());
    let mut interaction = example.clone();
    interaction.turns.clear();
    interaction.commitments.clear();
    add("no-turns", preview(interaction).encode_to_vec());

    seeds
}

fn validate_standard_seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, standard: &pb::Standard| {
        seeds.push((format!("seed-{name}"), standard.encode_to_vec()));
    };
    let default = default_standard();
    let test = test_standard();
    add("default", &default);
    add("test-standard", &test);

    let mut bytes: Vec<(&str, Vec<u8>)> = Vec::new();
    let default_bytes = default.encode_to_vec();
    bytes.push(("empty", Vec::new()));
    bytes.push((
        "truncated",
        default_bytes[..default_bytes.len() / 3].to_vec(),
    ));
    // Field 5 (phrase_sets) claiming a length of 2^63 - 1 bytes.
    bytes.push((
        "length-prefix-huge",
        vec![0x2a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
    ));

    // Valid variations.
    let mut cell_per_pair = test.clone();
    let template = test.cells[0].clone();
    cell_per_pair.cells = [
        pb::Tier::Small,
        pb::Tier::Medium,
        pb::Tier::Large,
        pb::Tier::Vip,
    ]
    .into_iter()
    .flat_map(|tier| {
        [
            pb::Channel::Phone,
            pb::Channel::Chat,
            pb::Channel::Email,
            pb::Channel::Sms,
            pb::Channel::InPerson,
            pb::Channel::Social,
        ]
        .into_iter()
        .map(move |channel| (tier, channel))
    })
    .enumerate()
    .map(|(index, (tier, channel))| {
        let mut cell = template.clone();
        cell.cell_id = format!("cell-{index}");
        cell.tiers = vec![tier as i32];
        cell.channels = vec![channel as i32];
        if let Some(rules) = &mut cell.rules {
            let weights = rules.weights.as_mut().expect("weights");
            weights.politeness = index as f64;
            if let Some(speed) = &mut rules.speed {
                speed.resolution = None;
            }
        }
        cell
    })
    .collect();
    add("cell-per-pair", &cell_per_pair);
    let mut base_only = test.clone();
    base_only.base = base_only.cells[0].rules.take();
    add("rules-in-base", &base_only);
    let mut unicode = test.clone();
    unicode.phrase_sets[0].phrases = [
        "ＨＥＬＬＯ",
        "İstanbul",
        "straße",
        "ﬁne",
        "ǅ",
        "不归我管\u{0301}",
        "👋\u{200D}",
        "ｶﾞ",
        "x",
        "a b",
    ]
    .into_iter()
    .map(|text| pb::Phrase {
        text: text.to_owned(),
        ..Default::default()
    })
    .collect();
    add("phrases-unicode", &unicode);

    // Invalid ones, each broken in one way.
    let mut broken = |name: &'static str, change: &dyn Fn(&mut pb::Standard)| {
        let mut standard = test.clone();
        change(&mut standard);
        bytes.push((name, standard.encode_to_vec()));
    };
    broken("weights-at-maximum", &|standard| {
        // The documented maximum of each weight (its sum once overflowed a u32).
        standard.cells[0].rules.as_mut().unwrap().weights = Some(pb::DimensionWeights {
            politeness: 1_000_000.0,
            speed: 1_000_000.0,
            follow_through: 1_000_000.0,
        });
    });
    broken("no-cells", &|standard| standard.cells.clear());
    broken("cells-overlap", &|standard| {
        let mut second = standard.cells[0].clone();
        second.cell_id = "again".to_owned();
        second.tiers = vec![pb::Tier::Vip as i32];
        standard.cells.push(second);
    });
    broken("cells-leave-pairs-uncovered", &|standard| {
        standard.cells[0].tiers = vec![pb::Tier::Small as i32];
        standard.cells[0].channels = vec![pb::Channel::Chat as i32, pb::Channel::Chat as i32];
    });
    broken("invalid-enums", &|standard| {
        standard.cells[0].tiers = vec![99, 0];
        standard.cells[0].channels = vec![-1];
        let politeness = standard.cells[0]
            .rules
            .as_mut()
            .unwrap()
            .politeness
            .as_mut();
        politeness.unwrap().require[0].window = 9;
    });
    broken("no-weights-no-thresholds", &|standard| {
        let rules = standard.cells[0].rules.as_mut().unwrap();
        rules.weights = None;
        rules.thresholds = None;
    });
    broken("weights-zero", &|standard| {
        standard.cells[0].rules.as_mut().unwrap().weights = Some(pb::DimensionWeights::default());
    });
    broken("numbers-not-finite", &|standard| {
        let rules = standard.cells[0].rules.as_mut().unwrap();
        rules.weights = Some(pb::DimensionWeights {
            politeness: f64::NAN,
            speed: -1.0,
            follow_through: f64::INFINITY,
        });
        rules.thresholds = Some(pb::GradeThresholds {
            pass: f64::NEG_INFINITY,
            excellent: 1e300,
        });
        let politeness = rules.politeness.as_mut().unwrap();
        politeness.forbid[0].points = f64::NAN;
        politeness.require[0].points = -5.0;
        standard.phrase_sets[4].phrases[0].points = f64::MAX;
    });
    broken("thresholds-inverted", &|standard| {
        standard.cells[0].rules.as_mut().unwrap().thresholds = Some(pb::GradeThresholds {
            pass: 95.0,
            excellent: 50.0,
        });
    });
    broken("durations-odd", &|standard| {
        let rules = standard.cells[0].rules.as_mut().unwrap();
        let speed = rules.speed.as_mut().unwrap();
        let duration = |seconds, nanos| Some(prost_types::Duration { seconds, nanos });
        speed.first_reply.as_mut().unwrap().target = duration(-1, 0);
        speed.next_reply.as_mut().unwrap().limit = duration(1, -1);
        speed.periodic_update.as_mut().unwrap().target = duration(i64::MAX, 999_999_999);
        speed.resolution.as_mut().unwrap().limit = duration(0, 1_000_000_000);
        speed.resolution.as_mut().unwrap().weight = -1.0;
        let follow_through = rules.follow_through.as_mut().unwrap();
        follow_through.commitment_late_limit = duration(i64::MIN, 0);
        follow_through
            .complaint_loop
            .as_mut()
            .unwrap()
            .callback_window = duration(86_400 * 366 * 11, 0);
    });
    broken("limit-below-target", &|standard| {
        let rules = standard.cells[0].rules.as_mut().unwrap();
        let first_reply = rules.speed.as_mut().unwrap().first_reply.as_mut().unwrap();
        first_reply.limit = Some(prost_types::Duration {
            seconds: 1,
            nanos: 0,
        });
    });
    broken("phrase-set-unknown", &|standard| {
        let politeness = standard.cells[0]
            .rules
            .as_mut()
            .unwrap()
            .politeness
            .as_mut();
        let politeness = politeness.unwrap();
        politeness.forbid[0].phrase_set_id = "no-such-set".to_owned();
        politeness.respond[0].trigger_phrase_set_id = String::new();
        politeness.require[0].turn_count = u32::MAX;
    });
    broken("phrase-sets-duplicate", &|standard| {
        let mut again = standard.phrase_sets[0].clone();
        again.phrases.clear();
        standard.phrase_sets.push(again);
    });
    broken("phrases-empty-after-normalising", &|standard| {
        standard.phrase_sets[0].phrases = ["", "   ", "\u{00AD}", &"长".repeat(201)]
            .into_iter()
            .map(|text| pb::Phrase {
                text: text.to_owned(),
                ..Default::default()
            })
            .collect();
    });
    broken("ids-invalid", &|standard| {
        standard.standard_id = "Default Standard!".to_owned();
        standard.cells[0].cell_id = String::new();
        standard.phrase_sets[1].phrase_set_id = "x".repeat(300);
        standard.description = "描".repeat(2_001);
        let politeness = standard.cells[0]
            .rules
            .as_mut()
            .unwrap()
            .politeness
            .as_mut();
        // The first require rule's id again.
        politeness.unwrap().require[1].rule_id = "greeting".to_owned();
    });
    broken("too-many-phrase-sets", &|standard| {
        standard.phrase_sets = (0..1_001)
            .map(|index| pb::PhraseSet {
                phrase_set_id: format!("s{index}"),
                ..Default::default()
            })
            .collect();
    });

    for (name, data) in bytes {
        seeds.push((format!("seed-{name}"), data));
    }
    seeds
}
