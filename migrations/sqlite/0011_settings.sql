-- Small facts the desk keeps about itself, as text.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- The first start of the version whose reply addresses carry 80-bit MACs (Unix seconds):
-- the 48-bit ones handed out before stay valid for desk.reopen_days after it.
INSERT INTO settings (key, value) VALUES ('reply_mac_80_bit_since', CAST(strftime('%s', 'now') AS TEXT));
