-- servscore schema, version 3 (SQLite): day_closes and revisions become rowid tables.
-- As WITHOUT ROWID tables their keys lived beside large values (a clearing sheet is many
-- pages, an archived scorecard often more than an index cell holds) in one B-tree, and
-- SQLite compares such a key only after reading the whole cell from its overflow pages:
-- every "is this day closed?" check of a scorecard write read whole sheets. As rowid tables
-- the keys are in their own small indexes and a value is read only when asked for. The rows
-- are copied unchanged.
CREATE TABLE day_closes_v3 (
    team_id TEXT NOT NULL,
    local_date TEXT NOT NULL,
    close_time INTEGER NOT NULL,
    trigger INTEGER NOT NULL,
    snapshot BLOB NOT NULL,
    PRIMARY KEY (team_id, local_date)
);
INSERT INTO day_closes_v3 (team_id, local_date, close_time, trigger, snapshot)
    SELECT team_id, local_date, close_time, trigger, snapshot FROM day_closes;
DROP TABLE day_closes;
ALTER TABLE day_closes_v3 RENAME TO day_closes;

CREATE TABLE revisions_v3 (
    interaction_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    content_hash BLOB NOT NULL,
    scorecard BLOB NOT NULL,
    PRIMARY KEY (interaction_id, revision)
);
INSERT INTO revisions_v3 (interaction_id, revision, content_hash, scorecard)
    SELECT interaction_id, revision, content_hash, scorecard FROM revisions;
DROP TABLE revisions;
ALTER TABLE revisions_v3 RENAME TO revisions;
