-- servscore schema, version 1 (SQLite).
-- Timestamps are Unix microseconds; local dates are 'YYYY-MM-DD' text (they sort as dates).
-- Protobuf blobs are the servscore.v1 messages, encoded.

CREATE TABLE standards (
    standard_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    create_time INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (standard_id, version)
) WITHOUT ROWID;

CREATE TABLE teams (
    team_id TEXT NOT NULL PRIMARY KEY,
    body BLOB NOT NULL
) WITHOUT ROWID;

-- A staff member is in at most one team.
CREATE TABLE team_members (
    staff_id TEXT NOT NULL PRIMARY KEY,
    team_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX team_members_by_team ON team_members (team_id);

-- The latest revision of each interaction, with its scorecard.
CREATE TABLE interactions (
    interaction_id TEXT NOT NULL PRIMARY KEY,
    revision INTEGER NOT NULL,
    content_hash BLOB NOT NULL,
    amendment_hash BLOB,
    customer_id TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    local_date TEXT NOT NULL,
    tier INTEGER NOT NULL,
    channel INTEGER NOT NULL,
    grade INTEGER NOT NULL,
    status INTEGER NOT NULL,
    next_due INTEGER,
    store_time INTEGER NOT NULL,
    body BLOB,
    scorecard BLOB NOT NULL
);
CREATE INDEX interactions_by_due ON interactions (next_due) WHERE next_due IS NOT NULL;
CREATE INDEX interactions_by_team_date ON interactions (team_id, local_date DESC, interaction_id);
CREATE INDEX interactions_by_staff_date ON interactions (staff_id, local_date DESC, interaction_id);
CREATE INDEX interactions_by_customer ON interactions (customer_id) WHERE customer_id <> '';

-- Earlier revisions: their content hash (idempotent re-sends) and scorecard.
CREATE TABLE revisions (
    interaction_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    content_hash BLOB NOT NULL,
    scorecard BLOB NOT NULL,
    PRIMARY KEY (interaction_id, revision)
) WITHOUT ROWID;

-- Additive daily sums per (team, staff, local date); everything else is derived when read.
CREATE TABLE staff_days (
    team_id TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    local_date TEXT NOT NULL,
    interactions INTEGER NOT NULL DEFAULT 0,
    scored INTEGER NOT NULL DEFAULT 0,
    composite_sum INTEGER NOT NULL DEFAULT 0,
    politeness_sum INTEGER NOT NULL DEFAULT 0,
    politeness_count INTEGER NOT NULL DEFAULT 0,
    speed_sum INTEGER NOT NULL DEFAULT 0,
    speed_count INTEGER NOT NULL DEFAULT 0,
    follow_through_sum INTEGER NOT NULL DEFAULT 0,
    follow_through_count INTEGER NOT NULL DEFAULT 0,
    excellent INTEGER NOT NULL DEFAULT 0,
    meets INTEGER NOT NULL DEFAULT 0,
    below INTEGER NOT NULL DEFAULT 0,
    fail INTEGER NOT NULL DEFAULT 0,
    ungraded INTEGER NOT NULL DEFAULT 0,
    provisional INTEGER NOT NULL DEFAULT 0,
    sla_breaches INTEGER NOT NULL DEFAULT 0,
    complaints INTEGER NOT NULL DEFAULT 0,
    surveys INTEGER NOT NULL DEFAULT 0,
    gap_sum INTEGER NOT NULL DEFAULT 0,
    satisfied INTEGER NOT NULL DEFAULT 0,
    basic INTEGER NOT NULL DEFAULT 0,
    unsatisfied INTEGER NOT NULL DEFAULT 0,
    expectations_not_exceeded INTEGER NOT NULL DEFAULT 0,
    items_due INTEGER NOT NULL DEFAULT 0,
    items_cleared INTEGER NOT NULL DEFAULT 0,
    carry_delta INTEGER NOT NULL DEFAULT 0,
    changes_after_close INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (team_id, staff_id, local_date)
) WITHOUT ROWID;

-- The same sums per (team, local date).
CREATE TABLE team_days (
    team_id TEXT NOT NULL,
    local_date TEXT NOT NULL,
    interactions INTEGER NOT NULL DEFAULT 0,
    scored INTEGER NOT NULL DEFAULT 0,
    composite_sum INTEGER NOT NULL DEFAULT 0,
    politeness_sum INTEGER NOT NULL DEFAULT 0,
    politeness_count INTEGER NOT NULL DEFAULT 0,
    speed_sum INTEGER NOT NULL DEFAULT 0,
    speed_count INTEGER NOT NULL DEFAULT 0,
    follow_through_sum INTEGER NOT NULL DEFAULT 0,
    follow_through_count INTEGER NOT NULL DEFAULT 0,
    excellent INTEGER NOT NULL DEFAULT 0,
    meets INTEGER NOT NULL DEFAULT 0,
    below INTEGER NOT NULL DEFAULT 0,
    fail INTEGER NOT NULL DEFAULT 0,
    ungraded INTEGER NOT NULL DEFAULT 0,
    provisional INTEGER NOT NULL DEFAULT 0,
    sla_breaches INTEGER NOT NULL DEFAULT 0,
    complaints INTEGER NOT NULL DEFAULT 0,
    surveys INTEGER NOT NULL DEFAULT 0,
    gap_sum INTEGER NOT NULL DEFAULT 0,
    satisfied INTEGER NOT NULL DEFAULT 0,
    basic INTEGER NOT NULL DEFAULT 0,
    unsatisfied INTEGER NOT NULL DEFAULT 0,
    expectations_not_exceeded INTEGER NOT NULL DEFAULT 0,
    items_due INTEGER NOT NULL DEFAULT 0,
    items_cleared INTEGER NOT NULL DEFAULT 0,
    carry_delta INTEGER NOT NULL DEFAULT 0,
    changes_after_close INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (team_id, local_date)
) WITHOUT ROWID;

-- Daily clearing sheets, immutable once written.
CREATE TABLE day_closes (
    team_id TEXT NOT NULL,
    local_date TEXT NOT NULL,
    close_time INTEGER NOT NULL,
    trigger INTEGER NOT NULL,
    snapshot BLOB NOT NULL,
    PRIMARY KEY (team_id, local_date)
) WITHOUT ROWID;

-- The change feed of rollup days, for live watches.
CREATE TABLE rollup_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    local_date TEXT NOT NULL,
    change_time INTEGER NOT NULL
);
