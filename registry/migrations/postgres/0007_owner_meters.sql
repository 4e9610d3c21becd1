CREATE TABLE owner_meters (
    account TEXT NOT NULL,
    owner TEXT NOT NULL,
    meter TEXT,
    version BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    modified_by TEXT NOT NULL,
    PRIMARY KEY (account, owner)
);
