CREATE TABLE owner_meters (
    account TEXT NOT NULL,
    owner TEXT NOT NULL,
    meter TEXT,
    version INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    modified_by TEXT NOT NULL,
    PRIMARY KEY (account, owner)
);
