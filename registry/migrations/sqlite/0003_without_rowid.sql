CREATE TABLE keys_v3 (
                id TEXT NOT NULL PRIMARY KEY,
                seq INTEGER,
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
                digest TEXT NOT NULL,
                prev_digest TEXT,
                prev_digest_until INTEGER
            ) WITHOUT ROWID;
            INSERT INTO keys_v3 (id, seq, account, name, description, owner, role, scopes,
                read_only, allowed_ips, enabled, expires_at, metadata, created_at, created_by,
                modified_at, modified_by, version, deleted_at, last_used_at, digest,
                prev_digest, prev_digest_until)
            SELECT id, seq, account, name, description, owner, role, scopes,
                read_only, allowed_ips, enabled, expires_at, metadata, created_at, created_by,
                modified_at, modified_by, version, deleted_at, last_used_at, digest,
                prev_digest, prev_digest_until
            FROM keys ORDER BY id;
            DROP TABLE keys;
            ALTER TABLE keys_v3 RENAME TO keys;
            CREATE UNIQUE INDEX keys_seq ON keys (seq);
            CREATE UNIQUE INDEX keys_live_name ON keys (account, name) WHERE deleted_at IS NULL;
            CREATE INDEX keys_account_seq ON keys (account, seq, deleted_at, enabled, expires_at);
            CREATE INDEX keys_account_owner ON keys (account, owner, seq);
            CREATE TRIGGER keys_seq_default AFTER INSERT ON keys WHEN NEW.seq IS NULL
            BEGIN
                UPDATE keys SET seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM keys)
                WHERE id = NEW.id;
            END;