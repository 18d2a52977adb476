//! Micro-benchmarks of the scoring core (divan): a typical 20-turn chat, and transcripts from
//! 1 KB to 1 MB to show that the cost grows linearly with the text.
//!
//! `cargo bench --bench scoring`

use divan::Bencher;
use divan::counter::BytesCount;
use jiff::tz::TimeZone;
use servscore::config::Limits;
use servscore::convert::interaction::{RevisionRule, from_proto};
use servscore::corpus::{Corpus, CorpusOptions};
use servscore::domain::calendar::WorkingTime;
use servscore::domain::interaction::Interaction;
use servscore::proto::v1 as pb;
use servscore::scoring::{CompiledStandard, ScoringContext, score};

fn main() {
    divan::main();
}

fn standard() -> CompiledStandard {
    CompiledStandard::new(
        servscore::convert::standard::from_proto(
            &servscore::builtin::default_standard(),
            "standard",
        )
        .unwrap(),
    )
}

fn text_bytes(interaction: &pb::Interaction) -> usize {
    interaction.turns.iter().map(|turn| turn.text.len()).sum()
}

/// A corpus chat of about 20 turns (the corpus makes an odd number: 21).
fn twenty_turn_chat(corpus: &Corpus) -> pb::Interaction {
    (0..100_000)
        .map(|index| corpus.interaction(index))
        .find(|interaction| {
            interaction.turns.len() == 21 && interaction.channel == pb::Channel::Chat as i32
        })
        .expect("the corpus has 21-turn chats")
}

fn domain(interaction: &pb::Interaction, corpus: &Corpus) -> Interaction {
    from_proto(
        interaction,
        "interaction",
        &Limits::stored(),
        RevisionRule::Required,
        corpus.options().now,
    )
    .unwrap()
}

fn run(bencher: Bencher<'_, '_>, interaction: pb::Interaction) {
    let corpus = Corpus::new(CorpusOptions::default());
    let standard = standard();
    let working_time = WorkingTime::WallClock;
    let zone = TimeZone::get("Asia/Shanghai").unwrap();
    let bytes = text_bytes(&interaction);
    let interaction = domain(&interaction, &corpus);
    bencher.counter(BytesCount::new(bytes)).bench_local(|| {
        score(
            divan::black_box(&interaction),
            &ScoringContext {
                standard: &standard,
                working_time: &working_time,
                time_zone: &zone,
                team_id: "default",
                evaluation_time: corpus.options().now,
            },
        )
    });
}

/// Scoring a typical 20-turn chat (about 4 KiB of text) with the built-in standard.
#[divan::bench]
fn typical_20_turn_chat(bencher: Bencher<'_, '_>) {
    let corpus = Corpus::new(CorpusOptions::default());
    run(bencher, twenty_turn_chat(&corpus));
}

/// The whole request path of one chat: validation into the domain, scoring, encoding the
/// scorecard.
#[divan::bench]
fn typical_chat_validate_score_encode(bencher: Bencher<'_, '_>) {
    let corpus = Corpus::new(CorpusOptions::default());
    let message = twenty_turn_chat(&corpus);
    let standard = standard();
    let working_time = WorkingTime::WallClock;
    let zone = TimeZone::UTC;
    bencher
        .counter(BytesCount::new(text_bytes(&message)))
        .bench_local(|| {
            let interaction = domain(divan::black_box(&message), &corpus);
            let scorecard = score(
                &interaction,
                &ScoringContext {
                    standard: &standard,
                    working_time: &working_time,
                    time_zone: &zone,
                    team_id: "default",
                    evaluation_time: corpus.options().now,
                },
            );
            prost::Message::encode_to_vec(&servscore::convert::scorecard::to_proto(&scorecard))
        });
}

/// Scoring cost against transcript size: the time per byte stays flat from 1 KB to 1 MB.
#[divan::bench(args = [1_000, 10_000, 100_000, 1_000_000], sample_count = 30)]
fn by_transcript_size(bencher: Bencher<'_, '_>, bytes: usize) {
    let corpus = Corpus::new(CorpusOptions::default());
    run(bencher, corpus.chat_of_size(bytes));
}
