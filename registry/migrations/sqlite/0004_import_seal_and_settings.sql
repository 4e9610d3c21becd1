ALTER TABLE keys ADD COLUMN import_seal TEXT;
            CREATE TABLE keyseal_settings (
                name TEXT NOT NULL PRIMARY KEY,
                value TEXT NOT NULL,
                updated_at INTEGER NOT NULL
            );