ALTER TABLE keys ADD COLUMN meter TEXT;
CREATE TABLE meter_windows (
    subject TEXT NOT NULL,
    name TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    previous BIGINT NOT NULL,
    current BIGINT NOT NULL,
    PRIMARY KEY (subject, name)
);
CREATE TABLE meter_credits (
    subject TEXT NOT NULL PRIMARY KEY,
    remaining BIGINT NOT NULL,
    refilled_at_ms BIGINT NOT NULL,
    epoch BIGINT NOT NULL DEFAULT 0
);
