-- servscore schema, version 1 (PostgreSQL). The same tables as the SQLite schema (versions 1
-- and 2 there), in PostgreSQL types: times are timestamptz, local dates are date, protobuf
-- blobs (the encoded servscore.v1 messages) are bytea, enum codes and sums are bigint.

CREATE TABLE standards (
    standard_id text NOT NULL,
    version bigint NOT NULL,
    create_time timestamptz NOT NULL,
    body bytea NOT NULL,
    PRIMARY KEY (standard_id, version)
);

CREATE TABLE teams (
    team_id text PRIMARY KEY,
    body bytea NOT NULL
);

-- A staff member is in at most one team.
CREATE TABLE team_members (
    staff_id text PRIMARY KEY,
    team_id text NOT NULL
);
CREATE INDEX team_members_by_team ON team_members (team_id);

-- The latest revision of each interaction, with its scorecard. `body_state` says what the
-- stored body still holds (storage::BodyState): 0 everything sent; 1 free text dropped after
-- scoring; 2 free text and customer id removed by a retention purge or an erasure.
CREATE TABLE interactions (
    interaction_id text PRIMARY KEY,
    revision bigint NOT NULL,
    content_hash bytea NOT NULL,
    amendment_hash bytea,
    customer_id text NOT NULL,
    staff_id text NOT NULL,
    team_id text NOT NULL,
    local_date date NOT NULL,
    tier bigint NOT NULL,
    channel bigint NOT NULL,
    grade bigint NOT NULL,
    status bigint NOT NULL,
    next_due timestamptz,
    store_time timestamptz NOT NULL,
    body bytea,
    scorecard bytea NOT NULL,
    opened_at timestamptz,
    body_state bigint NOT NULL DEFAULT 0
);
CREATE INDEX interactions_by_due ON interactions (next_due) WHERE next_due IS NOT NULL;
CREATE INDEX interactions_by_team_date ON interactions (team_id, local_date DESC, interaction_id);
CREATE INDEX interactions_by_staff_date ON interactions (staff_id, local_date DESC, interaction_id);
CREATE INDEX interactions_by_date ON interactions (local_date DESC, interaction_id);
CREATE INDEX interactions_by_customer ON interactions (customer_id) WHERE customer_id <> '';
CREATE INDEX interactions_to_purge ON interactions (opened_at) WHERE body_state < 2;

-- Earlier revisions: their content hash (idempotent re-sends) and scorecard.
CREATE TABLE revisions (
    interaction_id text NOT NULL,
    revision bigint NOT NULL,
    content_hash bytea NOT NULL,
    scorecard bytea NOT NULL,
    PRIMARY KEY (interaction_id, revision)
);

-- Additive daily sums per (team, staff, local date), changed only by upserts that add and
-- subtract in the database; everything else is derived when read.
CREATE TABLE staff_days (
    team_id text NOT NULL,
    staff_id text NOT NULL,
    local_date date NOT NULL,
    interactions bigint NOT NULL DEFAULT 0,
    scored bigint NOT NULL DEFAULT 0,
    composite_sum bigint NOT NULL DEFAULT 0,
    politeness_sum bigint NOT NULL DEFAULT 0,
    politeness_count bigint NOT NULL DEFAULT 0,
    speed_sum bigint NOT NULL DEFAULT 0,
    speed_count bigint NOT NULL DEFAULT 0,
    follow_through_sum bigint NOT NULL DEFAULT 0,
    follow_through_count bigint NOT NULL DEFAULT 0,
    excellent bigint NOT NULL DEFAULT 0,
    meets bigint NOT NULL DEFAULT 0,
    below bigint NOT NULL DEFAULT 0,
    fail bigint NOT NULL DEFAULT 0,
    ungraded bigint NOT NULL DEFAULT 0,
    provisional bigint NOT NULL DEFAULT 0,
    sla_breaches bigint NOT NULL DEFAULT 0,
    complaints bigint NOT NULL DEFAULT 0,
    surveys bigint NOT NULL DEFAULT 0,
    gap_sum bigint NOT NULL DEFAULT 0,
    satisfied bigint NOT NULL DEFAULT 0,
    basic bigint NOT NULL DEFAULT 0,
    unsatisfied bigint NOT NULL DEFAULT 0,
    expectations_not_exceeded bigint NOT NULL DEFAULT 0,
    items_due bigint NOT NULL DEFAULT 0,
    items_cleared bigint NOT NULL DEFAULT 0,
    carry_delta bigint NOT NULL DEFAULT 0,
    changes_after_close bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (team_id, staff_id, local_date)
);

-- The same sums per (team, local date).
CREATE TABLE team_days (
    team_id text NOT NULL,
    local_date date NOT NULL,
    interactions bigint NOT NULL DEFAULT 0,
    scored bigint NOT NULL DEFAULT 0,
    composite_sum bigint NOT NULL DEFAULT 0,
    politeness_sum bigint NOT NULL DEFAULT 0,
    politeness_count bigint NOT NULL DEFAULT 0,
    speed_sum bigint NOT NULL DEFAULT 0,
    speed_count bigint NOT NULL DEFAULT 0,
    follow_through_sum bigint NOT NULL DEFAULT 0,
    follow_through_count bigint NOT NULL DEFAULT 0,
    excellent bigint NOT NULL DEFAULT 0,
    meets bigint NOT NULL DEFAULT 0,
    below bigint NOT NULL DEFAULT 0,
    fail bigint NOT NULL DEFAULT 0,
    ungraded bigint NOT NULL DEFAULT 0,
    provisional bigint NOT NULL DEFAULT 0,
    sla_breaches bigint NOT NULL DEFAULT 0,
    complaints bigint NOT NULL DEFAULT 0,
    surveys bigint NOT NULL DEFAULT 0,
    gap_sum bigint NOT NULL DEFAULT 0,
    satisfied bigint NOT NULL DEFAULT 0,
    basic bigint NOT NULL DEFAULT 0,
    unsatisfied bigint NOT NULL DEFAULT 0,
    expectations_not_exceeded bigint NOT NULL DEFAULT 0,
    items_due bigint NOT NULL DEFAULT 0,
    items_cleared bigint NOT NULL DEFAULT 0,
    carry_delta bigint NOT NULL DEFAULT 0,
    changes_after_close bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (team_id, local_date)
);

-- Daily clearing sheets, immutable once written.
CREATE TABLE day_closes (
    team_id text NOT NULL,
    local_date date NOT NULL,
    close_time timestamptz NOT NULL,
    trigger bigint NOT NULL,
    snapshot bytea NOT NULL,
    PRIMARY KEY (team_id, local_date)
);

-- The change feed of rollup days, for live watches on every replica and for the
-- optimistic check of a day close. Rows are appended under one transaction-scoped advisory
-- lock held until commit, so sequence order is commit order (see storage::postgres).
CREATE TABLE rollup_changes (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id text NOT NULL,
    staff_id text NOT NULL,
    local_date date NOT NULL,
    change_time timestamptz NOT NULL
);
