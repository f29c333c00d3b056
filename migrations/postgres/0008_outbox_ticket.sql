-- Mail about a ticket, by time: loop protection counts it for every new ticket and reply,
-- and threading reads it; without this both scan the whole outbox.
CREATE INDEX outbox_ticket ON outbox(ticket_id, created_at);
