//! The shared storage suite: the `Store` guarantees every backend gives, run against SQLite
//! (one process) and PostgreSQL (two stores on one database: two replicas), plus what only a
//! shared database has to guarantee — a change feed read in commit order by another replica,
//! notices across replicas, and scheduled work claimed by one replica at a time.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::postgres::FreshDatabase;
use jiff::Timestamp;
use jiff::civil::Date;
use servscore::proto::v1 as pb;
use servscore::rollup::sums::DaySums;
use servscore::service::rollups::recompute;
use servscore::storage::postgres::{PostgresOptions, PostgresStore};
use servscore::storage::sqlite::{SqliteOptions, SqliteStore};
use servscore::storage::{
    BodyState, Notice, ScorecardWrite, Store, StoreError, WriteMode, WriteOutcome,
};
use tempfile::TempDir;

/// Two handles on one database, and what keeps the database alive.
struct Replicas {
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
    _keep: Keep,
}

enum Keep {
    Sqlite(#[allow(dead_code)] TempDir),
    Postgres(#[allow(dead_code)] FreshDatabase),
}

impl Replicas {
    /// SQLite: one store, which both handles share (one process is the only writer).
    async fn sqlite() -> Self {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("servscore.db");
        let store: Arc<dyn Store> = Arc::new(
            tokio::task::spawn_blocking(move || {
                SqliteStore::open(&path, &SqliteOptions::default())
            })
            .await
            .unwrap()
            .unwrap(),
        );
        Self {
            a: store.clone(),
            b: store,
            _keep: Keep::Sqlite(directory),
        }
    }

    /// PostgreSQL: two stores (two pools, two listeners) on one fresh database.
    async fn postgres() -> Self {
        let database = FreshDatabase::create().await;
        let options = PostgresOptions::default();
        let a = PostgresStore::open(database.url(), &options).await.unwrap();
        let b = PostgresStore::open(database.url(), &options).await.unwrap();
        Self {
            a: Arc::new(a),
            b: Arc::new(b),
            _keep: Keep::Postgres(database),
        }
    }

    fn either(&self, index: usize) -> Arc<dyn Store> {
        if index.is_multiple_of(2) {
            self.a.clone()
        } else {
            self.b.clone()
        }
    }
}

/// Runs a suite function against both backends.
macro_rules! on_both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name(super::Replicas::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name(super::Replicas::postgres().await).await;
            }
        }
    };
}

const DATES: [&str; 3] = ["2026-11-21", "2026-11-22", "2026-11-23"];

/// Revision `revision` of interaction `id`: its content (and so its scorecard) is a function
/// of the two, so equal revisions are equal content and re-sends are recognised.
fn write(id: usize, revision: i64, mode: WriteMode) -> ScorecardWrite {
    let staff = format!("s{}", id % 5);
    let team = if id % 5 < 3 { "north" } else { "south" };
    let variant = (id as i64 * 7 + revision * 13) % 100;
    let date = DATES[(id + revision as usize) % DATES.len()];
    let due_items = if variant % 3 == 0 {
        vec![pb::DueItem {
            local_date: DATES[(id + 1) % DATES.len()].to_owned(),
            done_local_date: if variant % 2 == 0 {
                String::new()
            } else {
                "2026-11-24".to_owned()
            },
            cleared: variant % 2 == 1,
            ..Default::default()
        }]
    } else {
        Vec::new()
    };
    let scorecard = pb::Scorecard {
        interaction_id: format!("i-{id}"),
        revision,
        staff_id: staff,
        team_id: team.to_owned(),
        local_date: date.to_owned(),
        composite: (variant % 4 != 0).then_some(50.0 + variant as f64 / 4.0),
        grade: (variant % 5) as i32,
        status: pb::ScorecardStatus::Final as i32,
        sla_breaches: (variant % 2) as i32,
        due_items,
        ..Default::default()
    };
    let content = format!("{id}/{revision}");
    ScorecardWrite {
        interaction_id: format!("i-{id}"),
        revision,
        content_hash: *blake3::hash(content.as_bytes()).as_bytes(),
        amendment_hash: None,
        customer_id: format!("c-{id}"),
        body: content.into_bytes(),
        body_state: BodyState::Complete,
        based_on: None,
        opened_at: Timestamp::from_second(1_795_435_200).unwrap(),
        scorecard,
        next_due: None,
        mode,
        now: Timestamp::from_second(1_795_435_200 + revision).unwrap(),
    }
}

/// The stored sums (rows with anything in them) equal the sums recomputed from the stored
/// scorecards, read through `store`.
async fn assert_sums_exact(store: &dyn Store) {
    let (expected, scanned) = recompute(store, None).await.unwrap();
    assert!(scanned > 0, "something was stored");
    let expected: BTreeMap<(String, String, Date), DaySums> = expected
        .into_iter()
        .filter(|(_, sums)| !sums.is_zero())
        .collect();
    let stored: BTreeMap<(String, String, Date), DaySums> = store
        .all_day_rows()
        .await
        .unwrap()
        .into_iter()
        .filter(|row| !row.sums.is_zero())
        .map(|row| ((row.team_id, row.staff_id, row.local_date), row.sums))
        .collect();
    assert_eq!(stored, expected, "stored sums == recomputation");
}

/// Eight writers, through both replicas, send revisions 1–6 of 24 interactions in random
/// order (so lower revisions arrive after higher ones, and the same revision arrives twice at
/// once): every write is answered as the rules say, nothing collides into an error, each
/// interaction ends at the highest revision sent, and the sums equal their recomputation.
async fn concurrent_writes_through_every_replica_keep_the_sums_exact(replicas: Replicas) {
    let mut tasks = Vec::new();
    for task in 0..8 {
        let store = replicas.either(task);
        tasks.push(tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(task as u64);
            let mut highest: BTreeMap<usize, i64> = BTreeMap::new();
            for _ in 0..60 {
                let id = rng.usize(0..24);
                let revision = rng.i64(1..=6);
                match store
                    .write_scorecard(write(id, revision, WriteMode::Ingest))
                    .await
                {
                    Ok(result) => {
                        assert_ne!(result.outcome, WriteOutcome::Skipped);
                        let best = highest.entry(id).or_default();
                        *best = (*best).max(revision);
                    }
                    // Older than what another writer stored, and never stored itself.
                    Err(StoreError::FailedPrecondition(_)) => {}
                    Err(other) => panic!("write {id}/{revision} failed: {other:?}"),
                }
            }
            highest
        }));
    }
    let mut highest: BTreeMap<usize, i64> = BTreeMap::new();
    for task in tasks {
        for (id, revision) in task.await.unwrap() {
            let best = highest.entry(id).or_default();
            *best = (*best).max(revision);
        }
    }
    for (id, revision) in &highest {
        let stored = replicas
            .a
            .get_interaction(&format!("i-{id}"))
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(stored.revision, *revision, "interaction {id}");
        assert_eq!(stored.scorecard.revision, *revision);
    }
    assert_sums_exact(replicas.a.as_ref()).await;
    assert_sums_exact(replicas.b.as_ref()).await;
}
on_both_backends!(concurrent_writes_through_every_replica_keep_the_sums_exact);

/// The same new interaction sent through both replicas at the same moment, twenty times
/// over: each time exactly one write creates it, the other finds it unchanged with the same
/// scorecard, and it counts once.
async fn the_same_interaction_through_two_replicas_is_stored_once(replicas: Replicas) {
    for id in 100..120 {
        let (first, second) = tokio::join!(
            replicas.a.write_scorecard(write(id, 1, WriteMode::Ingest)),
            replicas.b.write_scorecard(write(id, 1, WriteMode::Ingest)),
        );
        let (first, second) = (first.unwrap(), second.unwrap());
        let outcomes: BTreeSet<String> = [first.outcome, second.outcome]
            .iter()
            .map(|outcome| format!("{outcome:?}"))
            .collect();
        assert_eq!(
            outcomes,
            BTreeSet::from(["Created".to_owned(), "Unchanged".to_owned()]),
            "interaction {id}"
        );
        assert_eq!(first.scorecard, second.scorecard);
    }
    let (_, scanned) = recompute(replicas.a.as_ref(), None).await.unwrap();
    assert_eq!(scanned, 20);
    assert_sums_exact(replicas.b.as_ref()).await;
}
on_both_backends!(the_same_interaction_through_two_replicas_is_stored_once);

/// Racing amendments of the same revision through two replicas: exactly one applies, the
/// other is refused as not the latest revision, and the sums hold the winner only.
async fn racing_amendments_apply_once(replicas: Replicas) {
    for id in 200..210 {
        replicas
            .a
            .write_scorecard(write(id, 1, WriteMode::Ingest))
            .await
            .unwrap();
        let amend = |mut write: ScorecardWrite, hash: u8| {
            write.mode = WriteMode::Amend {
                expected_revision: 1,
            };
            write.amendment_hash = Some([hash; 32]);
            write
        };
        let (first, second) = tokio::join!(
            replicas
                .a
                .write_scorecard(amend(write(id, 2, WriteMode::Ingest), 1)),
            replicas
                .b
                .write_scorecard(amend(write(id, 2, WriteMode::Ingest), 2)),
        );
        let applied = [&first, &second]
            .iter()
            .filter(
                |result| matches!(result, Ok(result) if result.outcome == WriteOutcome::Replaced),
            )
            .count();
        let refused = [&first, &second]
            .iter()
            .filter(|result| matches!(result, Err(StoreError::FailedPrecondition(_))))
            .count();
        assert_eq!((applied, refused), (1, 1), "{first:?} / {second:?}");
    }
    assert_sums_exact(replicas.a.as_ref()).await;
}
on_both_backends!(racing_amendments_apply_once);

/// A follower on replica B reads the change feed from its last sequence while writers on
/// both replicas commit: it never skips an entry (an entry that became visible after a later
/// one would be skipped for good), so what it read equals the whole feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_on_another_replica_reads_the_feed_in_commit_order() {
    let replicas = Replicas::postgres().await;
    let done = Arc::new(AtomicBool::new(false));
    let follower = {
        let store = replicas.b.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut cursor = 0;
            let mut seen = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let changes = store.changes_since(cursor, 100).await.unwrap();
                if let Some((last, _)) = changes.last() {
                    cursor = *last;
                }
                let empty = changes.is_empty();
                seen.extend(changes.into_iter().map(|(seq, _)| seq));
                if finished && empty {
                    return seen;
                }
            }
        })
    };
    let mut writers = Vec::new();
    for task in 0..8 {
        let store = replicas.either(task);
        writers.push(tokio::spawn(async move {
            for index in 0..40 {
                store
                    .write_scorecard(write(1_000 + task * 100 + index, 1, WriteMode::Ingest))
                    .await
                    .unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let seen = follower.await.unwrap();
    let all: Vec<i64> = replicas
        .a
        .changes_since(0, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    assert!(all.len() >= 320, "every write appended to the feed");
    let missed: Vec<&i64> = all.iter().filter(|seq| !seen.contains(seq)).collect();
    assert!(
        missed.is_empty(),
        "the follower skipped {} of {} entries (committed after a later one): {missed:?}",
        missed.len(),
        all.len()
    );
    assert_eq!(seen, all, "the follower read every entry once, in order");
}

/// A write through replica A is announced to replica B (rollups), and so is a team change
/// (catalog).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_one_replica_are_announced_to_the_other() {
    let replicas = Replicas::postgres().await;
    let mut notices = replicas
        .b
        .notices()
        .expect("a shared database announces writes");
    // The listener announces that it (re)connected before anything else.
    let first = tokio::time::timeout(Duration::from_secs(10), notices.recv())
        .await
        .expect("the listener connects")
        .unwrap();
    assert_eq!(first, Notice::Resync);
    let next = async |notices: &mut tokio::sync::broadcast::Receiver<Notice>| {
        tokio::time::timeout(Duration::from_secs(10), notices.recv())
            .await
            .expect("a notice within 10 s")
            .unwrap()
    };
    replicas
        .a
        .write_scorecard(write(1, 1, WriteMode::Ingest))
        .await
        .unwrap();
    assert_eq!(next(&mut notices).await, Notice::Rollups);
    replicas
        .a
        .create_team(
            pb::Team {
                team_id: "east".to_owned(),
                display_name: "East".to_owned(),
                time_zone: "Asia/Shanghai".to_owned(),
                member_staff_ids: vec!["e1".to_owned()],
                ..Default::default()
            },
            Timestamp::from_second(1_795_435_200).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(next(&mut notices).await, Notice::Catalog);
    assert_eq!(
        replicas.b.team_of("e1").await.unwrap().as_deref(),
        Some("east")
    );
}

/// Scheduled work is claimed by one replica at a time; the claim ends when the job ends,
/// and also when the claiming job is abandoned half-way (its connection is closed).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scheduled_work_runs_on_one_replica_at_a_time() {
    let replicas = Replicas::postgres().await;
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let (finish_tx, finish) = tokio::sync::oneshot::channel::<()>();
    let a = replicas.a.clone();
    let holder = tokio::spawn(async move {
        a.exclusively(
            "scheduler",
            Box::pin(async move {
                started_tx.send(()).unwrap();
                finish.await.unwrap();
            }),
        )
        .await
        .unwrap()
    });
    started.await.unwrap();
    let ran = replicas
        .b
        .exclusively("scheduler", Box::pin(async {}))
        .await
        .unwrap();
    assert!(!ran, "B does not run the job while A runs it");
    // Another job name is not held.
    assert!(
        replicas
            .b
            .exclusively("other", Box::pin(async {}))
            .await
            .unwrap()
    );
    finish_tx.send(()).unwrap();
    assert!(holder.await.unwrap(), "A ran its job");
    assert!(
        replicas
            .b
            .exclusively("scheduler", Box::pin(async {}))
            .await
            .unwrap(),
        "B runs it once A is done"
    );

    // A replica abandons the job half-way (its task is cancelled, as when it shuts down or
    // dies): the claim goes with its connection.
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let a = replicas.a.clone();
    let abandoned = tokio::spawn(async move {
        a.exclusively(
            "scheduler",
            Box::pin(async move {
                started_tx.send(()).unwrap();
                std::future::pending::<()>().await;
            }),
        )
        .await
    });
    started.await.unwrap();
    abandoned.abort();
    let _ = abandoned.await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if replicas
            .b
            .exclusively("scheduler", Box::pin(async {}))
            .await
            .unwrap()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the abandoned claim is released within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
