-- What visitors do with the knowledge base (MISSION KB3-KB6).

-- A solution's views: one row per visitor and day that it was shown, so that reloading
-- counts once. `visitor` is a keyed hash (of the browser's anonymous id, or of its address
-- when it sends no cookie), never the id itself.
CREATE TABLE solution_views (
    solution_id  BIGINT  NOT NULL REFERENCES solutions(id) ON DELETE CASCADE,
    visitor      TEXT    NOT NULL,
    day          BIGINT  NOT NULL,
    PRIMARY KEY (solution_id, visitor, day)
);
CREATE INDEX solution_views_day ON solution_views(day);

-- "Did this help?": one answer per visitor and solution; a later one replaces it.
CREATE TABLE solution_votes (
    solution_id  BIGINT   NOT NULL REFERENCES solutions(id) ON DELETE CASCADE,
    visitor      TEXT     NOT NULL,
    helpful      BOOLEAN  NOT NULL,
    at           BIGINT   NOT NULL,
    PRIMARY KEY (solution_id, visitor)
);

-- Solutions suggested on the new-request form, one row per signed-in contact, solution
-- and day (however often the list was shown while they typed), and when they opened it:
-- a request of theirs within 30 minutes after opening it means it did not save one.
CREATE TABLE kb_form_suggestions (
    solution_id   BIGINT  NOT NULL REFERENCES solutions(id) ON DELETE CASCADE,
    contact_id    BIGINT  NOT NULL REFERENCES contacts(id),
    day           BIGINT  NOT NULL,
    suggested_at  BIGINT  NOT NULL,
    opened_at     BIGINT,
    PRIMARY KEY (solution_id, contact_id, day)
);
CREATE INDEX kb_form_suggestions_contact ON kb_form_suggestions(contact_id, opened_at);

-- Solutions suggested in a ticket's acknowledgement, when the link was opened, and when
-- the ticket was resolved through that suggestion's "this solved my problem".
CREATE TABLE kb_mail_suggestions (
    solution_id   BIGINT  NOT NULL REFERENCES solutions(id) ON DELETE CASCADE,
    ticket_id     BIGINT  NOT NULL REFERENCES tickets(id),
    suggested_at  BIGINT  NOT NULL,
    opened_at     BIGINT,
    resolved_at   BIGINT,
    PRIMARY KEY (solution_id, ticket_id)
);
CREATE INDEX kb_mail_suggestions_ticket ON kb_mail_suggestions(ticket_id);
