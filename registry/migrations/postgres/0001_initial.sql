CREATE TABLE keys (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                account TEXT NOT NULL,
                name TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '',
                owner TEXT,
                role TEXT,
                scopes TEXT NOT NULL DEFAULT '[]',
                read_only BIGINT NOT NULL DEFAULT 0,
                allowed_ips TEXT NOT NULL DEFAULT '[]',
                enabled BIGINT NOT NULL DEFAULT 1,
                expires_at BIGINT,
                metadata TEXT NOT NULL DEFAULT '{}',
                created_at BIGINT NOT NULL,
                created_by TEXT NOT NULL,
                modified_at BIGINT NOT NULL,
                modified_by TEXT NOT NULL,
                version BIGINT NOT NULL DEFAULT 1,
                deleted_at BIGINT,
                last_used_at BIGINT,
                digest TEXT NOT NULL
            );
            CREATE UNIQUE INDEX keys_live_name ON keys (account, name) WHERE deleted_at IS NULL;
            CREATE INDEX keys_account_seq ON keys (account, seq);
            CREATE TABLE audit (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                account TEXT NOT NULL,
                key_id TEXT NOT NULL,
                action TEXT NOT NULL,
                actor TEXT NOT NULL,
                at BIGINT NOT NULL,
                version BIGINT NOT NULL,
                changes TEXT NOT NULL
            );
            CREATE INDEX audit_account_seq ON audit (account, seq);