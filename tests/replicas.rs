//! Several stateless replicas on one PostgreSQL database (src/storage/postgres): two real
//! `servscore serve --database-url …` processes share a fresh database. Concurrent ingest,
//! duplicates and amendments spread over both leave every rollup equal to its recomputation
//! and visible alike through either replica, a team created through one is used by the other,
//! a watcher on one replica sees the writes made through the other; killing one replica
//! mid-load loses no acknowledged write, and the other keeps serving.
//!
//! The binaries run on the system clock: every interaction is opened on one UTC date of the
//! last hour ([`Day`]), and rollups are read for that date.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::postgres::FreshDatabase;
use common::{
    BinaryServer, Performance, Scoring, assert_rollups_exact, connect, inquiry_at, score,
    team_rollup,
};
use prost::Message;
use servscore::proto::v1 as pb;
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

/// The team the first test creates, and its members.
const TEAM: &str = "replicated";
/// Written only through replica A.
const AMY: &str = "amy";
/// Written (ingested and amended) only through replica B.
const BEN: &str = "ben";
/// Written through both.
const CAT: &str = "cat";
/// Written through both.
const DAN: &str = "dan";

/// The UTC date the interactions of a test are opened on, and the first second they may use:
/// every interaction is opened in `[base, base + 600)` and ends 90 s later, all on `date`
/// and at least 18 minutes before the system clock's now.
struct Day {
    base: i64,
    date: String,
}

impl Day {
    fn now() -> Self {
        let now = jiff::Timestamp::now().as_second();
        let earliest = now - 1_800;
        let day_start = earliest - earliest.rem_euclid(86_400);
        let base = earliest.min(day_start + 86_400 - 900);
        let date = jiff::Timestamp::from_second(day_start)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .to_string();
        Self { base, date }
    }

    /// The opening second of the `n`th interaction of a test.
    fn opened(&self, n: usize) -> i64 {
        self.base + (n as i64 * 7) % 600
    }
}

/// A resolved chat inquiry for `staff`, opened at the absolute second `opened`, answered
/// politely after 40 s.
fn inquiry(id: &str, staff: &str, opened: i64) -> pb::Interaction {
    inquiry_at(id, staff, opened, 40)
}

/// Two replicas of the real binary on `database`, each with a data directory of its own.
async fn start_replicas(
    database: &FreshDatabase,
) -> (BinaryServer, BinaryServer, [tempfile::TempDir; 2]) {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let arguments = ["--database-url", database.url()];
    let a = BinaryServer::start(dirs[0].path(), &arguments).await;
    let b = BinaryServer::start(dirs[1].path(), &arguments).await;
    (a, b, dirs)
}

/// Amends revision `expected` of `id` with a survey answer.
async fn amend_survey(
    scoring: &mut Scoring,
    id: &str,
    expected: i64,
    survey: pb::Survey,
) -> Result<pb::AmendInteractionResponse, tonic::Status> {
    scoring
        .amend_interaction(pb::AmendInteractionRequest {
            interaction_id: id.to_owned(),
            expected_revision: expected,
            amendments: vec![pb::Amendment {
                kind: Some(pb::amendment::Kind::SurveyAnswered(survey)),
            }],
        })
        .await
        .map(tonic::Response::into_inner)
}

fn survey(expectation: i32, perception: i32) -> pb::Survey {
    pb::Survey {
        expectation,
        perception,
        answered_at: None,
    }
}

fn gap(survey: &pb::Survey) -> i64 {
    i64::from(survey.perception - survey.expectation)
}

async fn get_scorecard(scoring: &mut Scoring, id: &str) -> Result<pb::Scorecard, tonic::Status> {
    scoring
        .get_scorecard(pb::GetScorecardRequest {
            interaction_id: id.to_owned(),
            revision: 0,
        })
        .await
        .map(|response| response.into_inner().scorecard.expect("a scorecard"))
}

/// Every stored scorecard (latest revisions), of one team or of all, read in pages of 25.
async fn list_paged(scoring: &mut Scoring, team: &str) -> Vec<pb::Scorecard> {
    let mut scorecards = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = scoring
            .list_scorecards(pb::ListScorecardsRequest {
                team_id: team.to_owned(),
                page_size: 25,
                page_token,
                ..Default::default()
            })
            .await
            .expect("a page of scorecards")
            .into_inner();
        scorecards.extend(page.scorecards);
        if page.next_page_token.is_empty() {
            return scorecards;
        }
        page_token = page.next_page_token;
    }
}

/// What a test expects of one stored interaction.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    staff: String,
    revision: i64,
    /// The survey gap the stored revision carries, if amended with one.
    gap: Option<i64>,
}

/// A rollup watch on one replica, drained continuously by a task of its own (so it never
/// falls behind because the test was busy), remembering the latest CHANGE of each rollup.
struct Watcher {
    events: tokio::sync::mpsc::UnboundedReceiver<Result<pb::WatchRollupsResponse, tonic::Status>>,
    date: String,
    /// The latest rollup received in a CHANGE for `date`, by staff id ("" for the team).
    changed: HashMap<String, pb::DailyRollup>,
    changes: usize,
    resyncs: usize,
}

impl Watcher {
    /// Opens a watch of `team` on `date` and reads it up to SYNCED; returns it with the
    /// snapshot.
    async fn open(channel: Channel, team: &str, date: &str) -> (Self, Vec<pb::DailyRollup>) {
        let mut stream = Performance::new(channel)
            .watch_rollups(pb::WatchRollupsRequest {
                team_id: team.to_owned(),
                local_date: date.to_owned(),
                ..Default::default()
            })
            .await
            .expect("the watch opens")
            .into_inner();
        let (sender, events) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(event) = stream.next().await {
                if sender.send(event).is_err() {
                    return;
                }
            }
        });
        let mut watcher = Self {
            events,
            date: date.to_owned(),
            changed: HashMap::new(),
            changes: 0,
            resyncs: 0,
        };
        let mut snapshot = Vec::new();
        loop {
            let event = watcher.next(Instant::now() + Duration::from_secs(10)).await;
            match pb::WatchEventKind::try_from(event.kind) {
                Ok(pb::WatchEventKind::Snapshot) => snapshot.push(event.rollup.expect("a rollup")),
                Ok(pb::WatchEventKind::Synced) => return (watcher, snapshot),
                other => panic!("only SNAPSHOT before SYNCED, got {other:?}: {event:?}"),
            }
        }
    }

    async fn next(&mut self, deadline: Instant) -> pb::WatchRollupsResponse {
        tokio::time::timeout_at(deadline, self.events.recv())
            .await
            .expect("a watch message before the deadline")
            .expect("the watch stream is open")
            .expect("a watch message, not an error")
    }

    /// Reads the watch (at most 20 s) until the latest CHANGE of `staff`'s rollup ("" for the
    /// team's) satisfies `done`; returns that rollup.
    async fn change_until(
        &mut self,
        staff: &str,
        what: &str,
        done: impl Fn(&pb::DailyRollup) -> bool,
    ) -> pb::DailyRollup {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(rollup) = self.changed.get(staff).filter(|rollup| done(rollup)) {
                return rollup.clone();
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let event = tokio::time::timeout(remaining, self.events.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "the watcher saw no CHANGE with {what} within 20 s; latest CHANGE of {staff:?}: {:?}",
                        self.changed.get(staff)
                    )
                })
                .expect("the watch stream is open")
                .expect("a watch message, not an error");
            match pb::WatchEventKind::try_from(event.kind) {
                Ok(pb::WatchEventKind::Change) => {
                    self.changes += 1;
                    let rollup = event.rollup.expect("a CHANGE carries a rollup");
                    if rollup.local_date == self.date {
                        self.changed.insert(rollup.staff_id.clone(), rollup);
                    }
                }
                Ok(pb::WatchEventKind::Resync) => self.resyncs += 1,
                Ok(pb::WatchEventKind::Snapshot | pb::WatchEventKind::Synced) => {}
                other => panic!("unexpected watch message {other:?}: {event:?}"),
            }
        }
    }
}

/// Polls (at most 10 s) PreviewScore on a replica until it scores `staff` with `team`.
async fn await_membership(scoring: &mut Scoring, day: &Day, staff: &str, team: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let preview = scoring
            .preview_score(pb::PreviewScoreRequest {
                interaction: Some(inquiry("probe", staff, day.base)),
                ..Default::default()
            })
            .await
            .expect("a preview")
            .into_inner()
            .scorecard
            .expect("a scorecard");
        if preview.team_id == team {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "replica B still scores {staff} in team {:?} 10 s after team {team} was created through replica A",
            preview.team_id
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Ingests `count` new interactions through `mine`, cycling over `staff`; every other one of
/// CAT's and DAN's is then amended with a survey through `other` (the replica that did not
/// ingest it). Returns what each id must be stored as.
async fn distinct_load(
    mine: Channel,
    other: Channel,
    prefix: String,
    staff: &'static [&'static str],
    count: usize,
    day: Arc<Day>,
) -> BTreeMap<String, Expected> {
    let (mut mine, mut other) = (Scoring::new(mine), Scoring::new(other));
    let mut expected = BTreeMap::new();
    for index in 0..count {
        let id = format!("{prefix}-{index:02}");
        let who = staff[index % staff.len()];
        let answer = score(&mut mine, inquiry(&id, who, day.opened(index)))
            .await
            .unwrap_or_else(|status| panic!("ingesting {id}: {status:?}"));
        assert_eq!(answer.outcome, pb::IngestOutcome::Created as i32, "{id}");
        let card = answer.scorecard.expect("a scorecard");
        assert_eq!(
            (card.team_id.as_str(), card.local_date.as_str()),
            (TEAM, day.date.as_str()),
            "{id} is scored in the team, on the day"
        );
        let mut stored = Expected {
            staff: who.to_owned(),
            revision: 1,
            gap: None,
        };
        if (who == CAT || who == DAN) && index % 2 == 0 {
            let answer = survey(3, 1 + (index % 5) as i32);
            let amended = amend_survey(&mut other, &id, 1, answer)
                .await
                .unwrap_or_else(|status| {
                    panic!("amending {id} through the other replica: {status:?}")
                });
            assert_eq!(amended.outcome, pb::IngestOutcome::Replaced as i32, "{id}");
            assert_eq!(amended.scorecard.expect("a scorecard").revision, 2, "{id}");
            stored.revision = 2;
            stored.gap = Some(gap(&answer));
        }
        expected.insert(id, stored);
    }
    expected
}

/// Sends each of `count` interactions to both replicas at once (exactly one stores it, both
/// answer with the same scorecard), then races amendments of revision 1 through both: the
/// same request twice (one applies it, the other is recognised as its retry), or two
/// different ones (exactly one applies, the other is FAILED_PRECONDITION).
async fn duplicate_load(
    a: Channel,
    b: Channel,
    prefix: String,
    count: usize,
    day: Arc<Day>,
) -> BTreeMap<String, Expected> {
    let (mut a, mut b) = (Scoring::new(a), Scoring::new(b));
    let mut expected = BTreeMap::new();
    for index in 0..count {
        let id = format!("{prefix}-{index:02}");
        let who = if index % 2 == 0 { CAT } else { DAN };
        let interaction = inquiry(&id, who, day.opened(index + 300));
        let (through_a, through_b) = tokio::join!(
            score(&mut a, interaction.clone()),
            score(&mut b, interaction)
        );
        let through_a = through_a.unwrap_or_else(|status| panic!("{id} through A: {status:?}"));
        let through_b = through_b.unwrap_or_else(|status| panic!("{id} through B: {status:?}"));
        let mut outcomes = [through_a.outcome, through_b.outcome];
        outcomes.sort_unstable();
        assert_eq!(
            outcomes,
            [
                pb::IngestOutcome::Created as i32,
                pb::IngestOutcome::Unchanged as i32
            ],
            "{id}: one replica stored it, the other found it"
        );
        assert_eq!(
            through_a.scorecard.expect("a scorecard").encode_to_vec(),
            through_b.scorecard.expect("a scorecard").encode_to_vec(),
            "{id}: both replicas answer with the stored scorecard"
        );
        let mut stored = Expected {
            staff: who.to_owned(),
            revision: 1,
            gap: None,
        };
        match index % 3 {
            // The same amendment through both at once: one applies it, the other is its retry.
            0 => {
                let same = survey(2, 4);
                let (through_a, through_b) = tokio::join!(
                    amend_survey(&mut a, &id, 1, same),
                    amend_survey(&mut b, &id, 1, same)
                );
                let through_a = through_a
                    .unwrap_or_else(|status| panic!("amending {id} through A: {status:?}"));
                let through_b = through_b
                    .unwrap_or_else(|status| panic!("amending {id} through B: {status:?}"));
                let mut outcomes = [through_a.outcome, through_b.outcome];
                outcomes.sort_unstable();
                assert_eq!(
                    outcomes,
                    [
                        pb::IngestOutcome::Replaced as i32,
                        pb::IngestOutcome::Unchanged as i32
                    ],
                    "{id}: one amendment applied, the identical one recognised as a retry"
                );
                let card = through_a.scorecard.expect("a scorecard");
                assert_eq!(card.revision, 2, "{id}");
                assert_eq!(
                    card.encode_to_vec(),
                    through_b.scorecard.expect("a scorecard").encode_to_vec(),
                    "{id}: the retry answers with the applied revision's scorecard"
                );
                stored.revision = 2;
                stored.gap = Some(gap(&same));
            }
            // Two different amendments of revision 1 at once: exactly one wins.
            1 => {
                let (for_a, for_b) = (survey(3, 5), survey(3, 1));
                let (through_a, through_b) = tokio::join!(
                    amend_survey(&mut a, &id, 1, for_a),
                    amend_survey(&mut b, &id, 1, for_b)
                );
                let winner = match (through_a, through_b) {
                    (Ok(won), Err(lost)) => {
                        assert_eq!(won.outcome, pb::IngestOutcome::Replaced as i32, "{id}");
                        assert_eq!(lost.code(), Code::FailedPrecondition, "{id}: {lost:?}");
                        for_a
                    }
                    (Err(lost), Ok(won)) => {
                        assert_eq!(won.outcome, pb::IngestOutcome::Replaced as i32, "{id}");
                        assert_eq!(lost.code(), Code::FailedPrecondition, "{id}: {lost:?}");
                        for_b
                    }
                    both => panic!("{id}: exactly one of two racing amendments wins: {both:?}"),
                };
                // The loser changed nothing: the stored revision carries the winner's survey.
                let stored_interaction = a
                    .get_interaction(pb::GetInteractionRequest {
                        interaction_id: id.clone(),
                        revision: 0,
                    })
                    .await
                    .expect("the interaction")
                    .into_inner()
                    .interaction
                    .expect("an interaction");
                assert_eq!(stored_interaction.revision, 2, "{id}");
                assert_eq!(stored_interaction.survey, Some(winner), "{id}");
                stored.revision = 2;
                stored.gap = Some(gap(&winner));
            }
            _ => {}
        }
        expected.insert(id, stored);
    }
    expected
}

/// Two replicas, one database: a team created through A is used by B; distinct writes,
/// duplicates sent to both at once, amendments through the replica that did not ingest, and
/// racing amendments, all concurrent; then both replicas verify the rollups exact, read the
/// same team rollup, list exactly the distinct interactions with their latest revisions, and
/// a watcher on A has seen, as CHANGE, the writes made only through B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_database_exactly() {
    let database = FreshDatabase::create().await;
    let (a, b, _dirs) = start_replicas(&database).await;
    let day = Arc::new(Day::now());
    let channel_a = connect(a.grpc_addr).await;
    let channel_b = connect(b.grpc_addr).await;
    let mut scoring_b = Scoring::new(channel_b.clone());

    // B learns the members' teams before the team exists (all in the default team)...
    for staff in [AMY, BEN, CAT, DAN] {
        await_membership(&mut scoring_b, &day, staff, "default").await;
    }
    // ...then the team is created through A, and B's cached memberships must be invalidated.
    pb::teams_service_client::TeamsServiceClient::new(channel_a.clone())
        .create_team(pb::CreateTeamRequest {
            team: Some(pb::Team {
                team_id: TEAM.to_owned(),
                display_name: "Replicated".to_owned(),
                time_zone: "UTC".to_owned(),
                member_staff_ids: [AMY, BEN, CAT, DAN].map(str::to_owned).to_vec(),
                ..Default::default()
            }),
        })
        .await
        .expect("the team is created through A");
    for staff in [AMY, BEN, CAT, DAN] {
        await_membership(&mut scoring_b, &day, staff, TEAM).await;
    }

    let (mut watcher, snapshot) = Watcher::open(channel_a.clone(), TEAM, &day.date).await;
    let team_snapshot = snapshot
        .iter()
        .find(|rollup| rollup.staff_id.is_empty())
        .expect("the snapshot holds the team rollup");
    assert_eq!(team_snapshot.interactions, 0, "{snapshot:?}");

    // The load: three writers per replica with their own connections, and two writers sending
    // duplicates and racing amendments to both.
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..3 {
        let (a1, b1) = (connect(a.grpc_addr).await, connect(b.grpc_addr).await);
        tasks.push(tokio::spawn(distinct_load(
            a1.clone(),
            b1.clone(),
            format!("via-a-{writer}"),
            &[AMY, CAT, DAN],
            12,
            day.clone(),
        )));
        tasks.push(tokio::spawn(distinct_load(
            b1,
            a1,
            format!("via-b-{writer}"),
            &[BEN, CAT, DAN],
            12,
            day.clone(),
        )));
    }
    for writer in 0..2 {
        tasks.push(tokio::spawn(duplicate_load(
            connect(a.grpc_addr).await,
            connect(b.grpc_addr).await,
            format!("dup-{writer}"),
            9,
            day.clone(),
        )));
    }
    let mut expected: BTreeMap<String, Expected> = BTreeMap::new();
    for task in tasks {
        let written = tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("the load ends within 60 s")
            .expect("every write of the load is answered as documented");
        expected.extend(written);
    }
    eprintln!(
        "{} interactions written through two replicas in {:?}",
        expected.len(),
        started.elapsed()
    );
    assert_eq!(expected.len(), 6 * 12 + 2 * 9, "distinct ids");

    // The watcher on A saw everything, BEN's day included (written only through B).
    let count_of = |expected: &BTreeMap<String, Expected>, staff: &str| {
        expected
            .values()
            .filter(|stored| staff.is_empty() || stored.staff == staff)
            .count() as i64
    };
    let total = count_of(&expected, "");
    watcher
        .change_until("", &format!("{total} team interactions"), |rollup| {
            rollup.interactions == total
        })
        .await;
    let ben_total = count_of(&expected, BEN);
    watcher
        .change_until(
            BEN,
            &format!("{ben_total} of {BEN}'s interactions"),
            |rollup| rollup.interactions == ben_total,
        )
        .await;
    // One more write, only through B, after everything else: A's watcher sees it too.
    let answer = score(&mut scoring_b, inquiry("via-b-last", BEN, day.opened(599)))
        .await
        .expect("the last write through B");
    assert_eq!(answer.outcome, pb::IngestOutcome::Created as i32);
    expected.insert(
        "via-b-last".to_owned(),
        Expected {
            staff: BEN.to_owned(),
            revision: 1,
            gap: None,
        },
    );
    let total = total + 1;
    let watched_team = watcher
        .change_until("", &format!("{total} team interactions"), |rollup| {
            rollup.interactions == total
        })
        .await;
    watcher
        .change_until(
            BEN,
            &format!("{} of {BEN}'s interactions", ben_total + 1),
            |rollup| rollup.interactions == ben_total + 1,
        )
        .await;
    eprintln!(
        "the watcher on A got {} CHANGE messages and {} RESYNCs",
        watcher.changes, watcher.resyncs
    );

    // Both replicas verify every rollup against the stored scorecards.
    let mut performance_a = Performance::new(channel_a.clone());
    let mut performance_b = Performance::new(channel_b.clone());
    for performance in [&mut performance_a, &mut performance_b] {
        let verified = assert_rollups_exact(performance).await;
        assert_eq!(verified.scorecards_read, total);
    }

    // The same team rollup through either replica (and as the watcher last saw it), with
    // every interaction and exactly the surveys of the amendments that won.
    let through_a = team_rollup(&mut performance_a, TEAM, &day.date).await;
    let through_b = team_rollup(&mut performance_b, TEAM, &day.date).await;
    assert_eq!(through_a, through_b, "one database, one rollup");
    assert_eq!(watched_team, through_a, "the watcher's latest team rollup");
    assert_eq!(through_a.interactions, total);
    assert_eq!(
        through_a.provisional, 0,
        "nothing left for a scheduler to re-score while the rollups are compared"
    );
    let gaps: Vec<i64> = expected.values().filter_map(|stored| stored.gap).collect();
    let satisfaction = through_a.satisfaction.expect("a satisfaction summary");
    assert_eq!(
        (satisfaction.surveys, satisfaction.gap_sum),
        (gaps.len() as i64, gaps.iter().sum::<i64>()),
        "every applied amendment counted once, no losing one"
    );
    for staff in [AMY, BEN, CAT, DAN] {
        let rollup = common::staff_rollup(&mut performance_b, staff, &day.date).await;
        assert_eq!(rollup.interactions, count_of(&expected, staff), "{staff}");
    }

    // Exactly the distinct interactions are stored, each at its expected revision.
    let listed = list_paged(&mut scoring_b, TEAM).await;
    let stored: BTreeMap<String, Expected> = listed
        .iter()
        .map(|card| {
            let gap = card
                .satisfaction
                .as_ref()
                .filter(|satisfaction| satisfaction.surveyed)
                .map(|satisfaction| i64::from(satisfaction.gap));
            (
                card.interaction_id.clone(),
                Expected {
                    staff: card.staff_id.clone(),
                    revision: card.revision,
                    gap,
                },
            )
        })
        .collect();
    assert_eq!(listed.len(), stored.len(), "each interaction listed once");
    assert_eq!(stored, expected);
}

/// Two replicas under load; replica A is killed with SIGKILL after some of its writes were
/// acknowledged. Every write acknowledged by either replica is then readable through B,
/// nothing is stored that was not sent, B kept taking writes (and amends what A wrote), and
/// B verifies the rollups exact: no write in flight on A at the kill was half applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_one_replica_mid_load_loses_no_acknowledged_write() {
    let database = FreshDatabase::create().await;
    let (mut a, b, _dirs) = start_replicas(&database).await;
    let day = Arc::new(Day::now());
    let (writers, kill_after, after_kill) = (4, 40, 40);
    let acknowledged: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let failed: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let (acks_a, acks_b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let enough = Arc::new(tokio::sync::Notify::new());
    let stop_b = Arc::new(AtomicBool::new(false));

    let mut tasks_a = Vec::new();
    let mut tasks_b = Vec::new();
    for writer in 0..writers {
        // Writers on A: until A dies under them.
        let mut scoring = Scoring::new(connect(a.grpc_addr).await);
        let (acked, failed_a, acks, notify, day_a) = (
            acknowledged.clone(),
            failed.clone(),
            acks_a.clone(),
            enough.clone(),
            day.clone(),
        );
        tasks_a.push(tokio::spawn(async move {
            for index in 0.. {
                let id = format!("a-{writer}-{index:03}");
                let staff = format!("staff-{}", index % 3);
                match score(&mut scoring, inquiry(&id, &staff, day_a.opened(index))).await {
                    Ok(_) => {
                        acked.lock().unwrap().insert(id);
                        if acks.fetch_add(1, Ordering::SeqCst) + 1 == kill_after {
                            notify.notify_one();
                        }
                    }
                    Err(_) => {
                        failed_a.lock().unwrap().insert(id);
                        return;
                    }
                }
            }
        }));
        // Writers on B: every write succeeds, before and after the kill, until told to stop.
        let mut scoring = Scoring::new(connect(b.grpc_addr).await);
        let (acked, acks, stop, day_b) = (
            acknowledged.clone(),
            acks_b.clone(),
            stop_b.clone(),
            day.clone(),
        );
        tasks_b.push(tokio::spawn(async move {
            let mut index = 0;
            while !stop.load(Ordering::SeqCst) {
                let id = format!("b-{writer}-{index:03}");
                let staff = format!("staff-{}", index % 3);
                score(&mut scoring, inquiry(&id, &staff, day_b.opened(index + 1)))
                    .await
                    .unwrap_or_else(|status| panic!("B refused {id}: {status:?}"));
                acked.lock().unwrap().insert(id);
                acks.fetch_add(1, Ordering::SeqCst);
                index += 1;
            }
        }));
    }

    tokio::time::timeout(Duration::from_secs(60), enough.notified())
        .await
        .expect("A acknowledges enough writes within 60 s");
    a.signal("KILL");
    let acks_b_at_kill = acks_b.load(Ordering::SeqCst);
    let status = a.wait().await;
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    }
    for task in tasks_a {
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("A's writers notice the dead replica")
            .unwrap();
    }
    let acknowledged_by_a = acks_a.load(Ordering::SeqCst);
    assert!(acknowledged_by_a >= kill_after);

    // B keeps taking writes after the kill.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acks_b.load(Ordering::SeqCst) < acks_b_at_kill + after_kill {
        assert!(
            Instant::now() < deadline,
            "B acknowledged only {} writes in the 30 s after A was killed",
            acks_b.load(Ordering::SeqCst) - acks_b_at_kill
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_b.store(true, Ordering::SeqCst);
    for task in tasks_b {
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("B's writers stop")
            .expect("B answered every write of its writers");
    }

    let channel = connect(b.grpc_addr).await;
    let mut scoring = Scoring::new(channel.clone());
    let mut performance = Performance::new(channel);
    let acknowledged = acknowledged.lock().unwrap().clone();
    let failed = failed.lock().unwrap().clone();

    // B amends what A wrote and acknowledged.
    let amended: Vec<String> = acknowledged
        .iter()
        .filter(|id| id.starts_with("a-"))
        .take(5)
        .cloned()
        .collect();
    for id in &amended {
        let answer = amend_survey(&mut scoring, id, 1, survey(3, 4))
            .await
            .unwrap_or_else(|status| panic!("B amends {id}, written through A: {status:?}"));
        assert_eq!(answer.outcome, pb::IngestOutcome::Replaced as i32, "{id}");
    }

    // Every acknowledged write is stored whole.
    for id in &acknowledged {
        let card = get_scorecard(&mut scoring, id)
            .await
            .unwrap_or_else(|status| panic!("acknowledged {id} was lost: {status:?}"));
        assert_eq!(&card.interaction_id, id);
        let revision = if amended.contains(id) { 2 } else { 1 };
        assert_eq!(card.revision, revision, "{id}");
    }
    // Nothing is stored that was not sent; a call that failed on A is stored or not, never in
    // part (every stored scorecard is counted once in the rollups, VerifyRollups below).
    let stored: BTreeSet<String> = list_paged(&mut scoring, "")
        .await
        .into_iter()
        .map(|card| card.interaction_id)
        .collect();
    let unacknowledged: BTreeSet<&String> = stored.difference(&acknowledged).collect();
    assert!(
        unacknowledged.iter().all(|id| failed.contains(*id)),
        "stored but never acknowledged nor in flight at the kill: {unacknowledged:?}"
    );
    assert!(stored.is_superset(&acknowledged));
    let verified = assert_rollups_exact(&mut performance).await;
    assert_eq!(verified.scorecards_read, stored.len() as i64);
    let per_staff: i64 = {
        let mut sum = 0;
        for staff in 0..3 {
            sum += common::staff_rollup(&mut performance, &format!("staff-{staff}"), &day.date)
                .await
                .interactions;
        }
        sum
    };
    assert_eq!(
        per_staff,
        stored.len() as i64,
        "each stored write counted once"
    );
    eprintln!(
        "acknowledged {} through A before the kill, {} through B ({} after it); {} in flight on A, {} of them stored",
        acknowledged_by_a,
        acks_b.load(Ordering::SeqCst),
        acks_b.load(Ordering::SeqCst) - acks_b_at_kill,
        failed.len(),
        unacknowledged.len()
    );
}
