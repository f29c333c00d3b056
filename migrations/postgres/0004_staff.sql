-- Staff: who gets the staff notifications (new ticket, customer reply).
CREATE TABLE staff (
    email        TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL DEFAULT '',
    department   TEXT,              -- NULL: every department
    created_at   BIGINT  NOT NULL
);
