-- Nodes sharing this database hear of queued mail at once (LISTEN maildesk_outbox) rather
-- than at their next poll: whichever node's transaction queued it, the notification goes out
-- when that transaction commits (one per transaction however many rows). Polling stays the
-- fallback for a node whose listening connection was lost.
CREATE FUNCTION outbox_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('maildesk_outbox', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_queued AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_queued();
