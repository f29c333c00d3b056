-- Every change a customer's open page should show (a new comment, a new status), in the
-- order it was written, whichever process wrote it: the portal's live updates follow this
-- table, not one process's memory, so that a page served by one node hears of a change made
-- by another. Kept by triggers, so no write path can forget it; housekeeping trims it.
CREATE TABLE ticket_changes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT  NOT NULL,
    at        BIGINT  NOT NULL
);

CREATE TRIGGER ticket_changes_comment AFTER INSERT ON comments
BEGIN
    INSERT INTO ticket_changes (ticket_id, at) VALUES (new.ticket_id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER ticket_changes_status AFTER UPDATE OF status ON tickets WHEN old.status IS NOT new.status
BEGIN
    INSERT INTO ticket_changes (ticket_id, at) VALUES (new.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
