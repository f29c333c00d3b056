-- Messages whose effect is committed but which still wait in their IMAP folder to be moved
-- (to the done folder or to the quarantine folder): a later pass moves them. A row exists
-- from the commit until the move succeeds, so a move that failed is retried. `copied` is 1
-- once a COPY into the target worked (servers without MOVE): only the EXPUNGE is left, so a
-- retry never copies twice.
CREATE TABLE imap_moves (
    mailbox       TEXT    NOT NULL,
    uid_validity  BIGINT  NOT NULL,
    uid           BIGINT  NOT NULL,
    target        TEXT    NOT NULL,
    copied        BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (mailbox, uid_validity, uid)
);
