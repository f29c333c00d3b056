-- Staff work (issue 6): who a ticket is assigned to, when its status last changed, since
-- when a customer has been waiting for an answer (response targets), and the older ticket
-- a late reply follows up. Keep in step with migrations/sqlite/0007_lifecycle.sql.
ALTER TABLE tickets ADD COLUMN assignee TEXT;
ALTER TABLE tickets ADD COLUMN status_changed_at BIGINT;
ALTER TABLE tickets ADD COLUMN awaiting_since BIGINT;
ALTER TABLE tickets ADD COLUMN follows_up BIGINT REFERENCES tickets(id);
UPDATE tickets SET status_changed_at = updated_at;
CREATE INDEX tickets_status ON tickets(status, status_changed_at);
CREATE INDEX tickets_assignee ON tickets(assignee);
CREATE INDEX tickets_department ON tickets(department, id);
-- Which staff notifications a member gets: "all" of their departments, or only those of
-- tickets "assigned" to them.
ALTER TABLE staff ADD COLUMN notify TEXT NOT NULL DEFAULT 'all';
-- Files that travel with a notification (a staff reply's attachments): JSON
-- [{"sha256", "filename", "content_type"}], the bytes in the blob store.
ALTER TABLE outbox ADD COLUMN attachments TEXT;
