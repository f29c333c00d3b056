-- Messages whose interpretation was still running after about a second: the mark is
-- written then (never on the normal path) and removed when the message finishes. A mark
-- left behind means a worker failed, hung or the process died while reading that message;
-- at two attempts the message is quarantined without being read again.
CREATE TABLE poison (
    raw_sha256  TEXT    PRIMARY KEY,
    attempts    BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
