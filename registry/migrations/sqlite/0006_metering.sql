ALTER TABLE keys ADD COLUMN meter TEXT;
CREATE TABLE meter_windows (
    subject TEXT NOT NULL,
    name TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    previous INTEGER NOT NULL,
    current INTEGER NOT NULL,
    PRIMARY KEY (subject, name)
) WITHOUT ROWID;
CREATE TABLE meter_credits (
    subject TEXT NOT NULL PRIMARY KEY,
    remaining INTEGER NOT NULL,
    refilled_at_ms INTEGER NOT NULL,
    epoch INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
