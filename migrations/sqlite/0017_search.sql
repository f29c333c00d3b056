-- The portal's request list (issue 16): find a request by the words of its subject or of
-- one public comment, among those a contact may see, fast with 100,000 tickets and
-- 1,000,000 comments. Keep in step with migrations/postgres/0017_search.sql; why the two
-- differ is told in src/store/search.rs.

-- Which tickets a contact takes part in, read from the index alone.
DROP INDEX ticket_participants_contact;
CREATE INDEX ticket_participants_contact ON ticket_participants(contact_id, ticket_id);

-- An organisation's tickets in the orders of a list (newest, last activity), so that a
-- page of a large organisation reads that page only, and its count the index only.
DROP INDEX tickets_organisation;
CREATE INDEX tickets_organisation ON tickets(organisation_id, id);
CREATE INDEX tickets_organisation_activity ON tickets(organisation_id, updated_at, id);

-- One full-text index of the words customers may see: a row per ticket subject and per
-- PUBLIC comment's new text (internal notes are never in it, so no search can reveal their
-- words). Its rowid says whose words they are, so that no lookup is needed to find the
-- ticket: a subject is row ticket * 2^32, a comment row ticket * 2^32 + comment id (ticket
-- numbers below 2^31, comment ids below 2^32); a ticket's rows are one rowid range.
-- Contentless: the text stays in tickets and comments. `detail=none` keeps only which rows
-- hold a word (a search is words, never phrases). Diacritics and case are folded; marks
-- (M*) are word characters so that a decomposed "é" folds like a composed one.
CREATE VIRTUAL TABLE ticket_words USING fts5(
    words,
    content = '',
    contentless_delete = 1,
    detail = none,
    tokenize = "unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
);

-- The index is kept by triggers, whatever writes the rows. A text is indexed up to its
-- 200,000th character, as on PostgreSQL (whose tsvector has a size limit).
CREATE TRIGGER ticket_words_subject_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO ticket_words (rowid, words) VALUES (new.id * 4294967296, substr(new.subject, 1, 200000));
END;
CREATE TRIGGER ticket_words_subject_update AFTER UPDATE OF subject ON tickets BEGIN
    DELETE FROM ticket_words WHERE rowid = old.id * 4294967296;
    INSERT INTO ticket_words (rowid, words) VALUES (new.id * 4294967296, substr(new.subject, 1, 200000));
END;
CREATE TRIGGER ticket_words_subject_delete AFTER DELETE ON tickets BEGIN
    DELETE FROM ticket_words WHERE rowid = old.id * 4294967296;
END;
CREATE TRIGGER ticket_words_comment_insert AFTER INSERT ON comments WHEN new.public BEGIN
    INSERT INTO ticket_words (rowid, words)
    VALUES (new.ticket_id * 4294967296 + new.id, substr(new.body_reply, 1, 200000));
END;
CREATE TRIGGER ticket_words_comment_update AFTER UPDATE OF public, body_reply, ticket_id ON comments BEGIN
    DELETE FROM ticket_words WHERE rowid = old.ticket_id * 4294967296 + old.id;
    INSERT INTO ticket_words (rowid, words)
    SELECT new.ticket_id * 4294967296 + new.id, substr(new.body_reply, 1, 200000) WHERE new.public;
END;
CREATE TRIGGER ticket_words_comment_delete AFTER DELETE ON comments WHEN old.public BEGIN
    DELETE FROM ticket_words WHERE rowid = old.ticket_id * 4294967296 + old.id;
END;

-- What was written before.
INSERT INTO ticket_words (rowid, words) SELECT id * 4294967296, substr(subject, 1, 200000) FROM tickets;
INSERT INTO ticket_words (rowid, words)
SELECT ticket_id * 4294967296 + id, substr(body_reply, 1, 200000) FROM comments WHERE public;
INSERT INTO ticket_words (ticket_words) VALUES ('optimize');
