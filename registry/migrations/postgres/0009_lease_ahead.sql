-- Units of the next window an instance has leased ahead (see registry/src/meter/lease.rs):
-- counted against the current window's room, and as the next window's `current` when
-- the window rolls.
ALTER TABLE meter_windows ADD COLUMN ahead BIGINT NOT NULL DEFAULT 0;
