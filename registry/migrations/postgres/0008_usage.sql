-- Usage analytics: verification counts by outcome and credits spent, per key, in
-- minute, hour and day buckets (see registry/src/usage.rs). `owner` is '' for a key
-- without one. The primary key serves per-key ranges; the other indexes serve owner
-- and account ranges and the retention deletes.
CREATE TABLE usage_minute (
    account TEXT NOT NULL,
    key_id TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    owner TEXT NOT NULL,
    hits BIGINT NOT NULL,
    credits BIGINT NOT NULL,
    PRIMARY KEY (account, key_id, start_at, outcome, owner)
);
CREATE INDEX usage_minute_owner ON usage_minute (account, owner, start_at);
CREATE INDEX usage_minute_account ON usage_minute (account, start_at);
CREATE INDEX usage_minute_start ON usage_minute (start_at);
CREATE TABLE usage_hour (
    account TEXT NOT NULL,
    key_id TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    owner TEXT NOT NULL,
    hits BIGINT NOT NULL,
    credits BIGINT NOT NULL,
    PRIMARY KEY (account, key_id, start_at, outcome, owner)
);
CREATE INDEX usage_hour_owner ON usage_hour (account, owner, start_at);
CREATE INDEX usage_hour_account ON usage_hour (account, start_at);
CREATE INDEX usage_hour_start ON usage_hour (start_at);
CREATE TABLE usage_day (
    account TEXT NOT NULL,
    key_id TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    owner TEXT NOT NULL,
    hits BIGINT NOT NULL,
    credits BIGINT NOT NULL,
    PRIMARY KEY (account, key_id, start_at, outcome, owner)
);
CREATE INDEX usage_day_owner ON usage_day (account, owner, start_at);
CREATE INDEX usage_day_account ON usage_day (account, start_at);
CREATE INDEX usage_day_start ON usage_day (start_at);
