ALTER TABLE keys ADD COLUMN prev_digest TEXT;
            ALTER TABLE keys ADD COLUMN prev_digest_until INTEGER;
            CREATE INDEX keys_account_owner ON keys (account, owner, seq);