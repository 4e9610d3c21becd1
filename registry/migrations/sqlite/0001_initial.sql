CREATE TABLE keys (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                account TEXT NOT NULL,
                name TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '',
                owner TEXT,
                role TEXT,
                scopes TEXT NOT NULL DEFAULT '[]',
                read_only INTEGER NOT NULL DEFAULT 0,
                allowed_ips TEXT NOT NULL DEFAULT '[]',
                enabled INTEGER NOT NULL DEFAULT 1,
                expires_at INTEGER,
                metadata TEXT NOT NULL DEFAULT '{}',
                created_at INTEGER NOT NULL,
                created_by TEXT NOT NULL,
                modified_at INTEGER NOT NULL,
                modified_by TEXT NOT NULL,
                version INTEGER NOT NULL DEFAULT 1,
                deleted_at INTEGER,
                last_used_at INTEGER,
                digest TEXT NOT NULL
            );
            CREATE UNIQUE INDEX keys_live_name ON keys (account, name) WHERE deleted_at IS NULL;
            CREATE INDEX keys_account_seq ON keys (account, seq);
            CREATE TABLE audit (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                account TEXT NOT NULL,
                key_id TEXT NOT NULL,
                action TEXT NOT NULL,
                actor TEXT NOT NULL,
                at INTEGER NOT NULL,
                version INTEGER NOT NULL,
                changes TEXT NOT NULL
            );
            CREATE INDEX audit_account_seq ON audit (account, seq);