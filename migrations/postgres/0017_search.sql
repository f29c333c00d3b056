-- The portal's request list (issue 16): find a request by the words of its subject or of
-- one public comment, among those a contact may see, fast with 100,000 tickets and
-- 1,000,000 comments. Keep in step with migrations/sqlite/0017_search.sql; why the two
-- differ is told in src/store/search.rs.

-- Which tickets a contact takes part in, read from the index alone.
DROP INDEX ticket_participants_contact;
CREATE INDEX ticket_participants_contact ON ticket_participants(contact_id, ticket_id);

-- An organisation's tickets in the orders of a list (newest, last activity), so that a
-- page of a large organisation reads that page only, and its count the index only.
DROP INDEX tickets_organisation;
CREATE INDEX tickets_organisation ON tickets(organisation_id, id);
CREATE INDEX tickets_organisation_activity ON tickets(organisation_id, updated_at, id);

-- A text as the words a search compares, much as SQLite's FTS5 table (unicode61,
-- remove_diacritics 2) sees them: lower-cased by ICU whatever the database's locale (the
-- tests' is C, which lowers ASCII only), diacritics taken off (decomposed, and the marks
-- dropped), and anything but letters and digits made a space, so that the parser sees no
-- e-mail address, URL or hyphenated word. Only the first 200,000 characters count: a
-- tsvector holds at most 1 MB.
CREATE FUNCTION maildesk_search_text(body text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT regexp_replace(
        regexp_replace(normalize(lower(left(body, 200000) COLLATE "und-x-icu"), NFD), '[\u0300-\u036f]+', '', 'g')
            COLLATE "und-x-icu",
        '[^[:alnum:]]+', ' ', 'g')
$$;

-- The words of a text, without positions (a search is words, never phrases) and without
-- stemming or stop words ('simple'), as in FTS5. The folding is maildesk_search_text's,
-- written out again (keep the two equal): a SQL function's body that calls one of ours by
-- its bare name fails where no search_path names our schema, as in pg_restore, which
-- rebuilds the generated column below with this function.
CREATE FUNCTION maildesk_search_vector(body text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT strip(to_tsvector('simple'::regconfig, regexp_replace(
        regexp_replace(normalize(lower(left(body, 200000) COLLATE "und-x-icu"), NFD), '[\u0300-\u036f]+', '', 'g')
            COLLATE "und-x-icu",
        '[^[:alnum:]]+', ' ', 'g')))
$$;

-- The words of each PUBLIC comment, stored: an internal note has none (NULL), so no search
-- can reveal its words. Checking a ticket's comments then reads them instead of parsing
-- every text again (~30 µs each).
ALTER TABLE comments ADD COLUMN search_words tsvector
    GENERATED ALWAYS AS (CASE WHEN public THEN maildesk_search_vector(body_reply) END) STORED;

-- The union of such words, as tsvector || does it.
CREATE AGGREGATE maildesk_words_union(tsvector) (SFUNC = tsvector_concat, STYPE = tsvector, INITCOND = '');

-- Each ticket's words: those of its subject and of all its public comments, in one GIN
-- index of the tickets table. A ticket with all the words of a search in one text has
-- them all here, so the index finds every candidate, among a contact's tickets or an
-- organisation's, without reading a comment; each candidate is then checked text by text.
-- Words are only ever added (a new subject, a new or edited public comment): a word left
-- over makes one more candidate, never a wrong answer.
ALTER TABLE tickets ADD COLUMN search_words tsvector NOT NULL DEFAULT '';
UPDATE tickets t SET search_words = maildesk_search_vector(t.subject) || COALESCE(
    (SELECT maildesk_words_union(m.search_words) FROM comments m WHERE m.ticket_id = t.id AND m.public), '');
CREATE INDEX tickets_search_words ON tickets USING gin (search_words);

CREATE FUNCTION maildesk_subject_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_words := NEW.search_words || maildesk_search_vector(NEW.subject);
    RETURN NEW;
END $$;
CREATE TRIGGER tickets_subject_words BEFORE INSERT OR UPDATE OF subject ON tickets
    FOR EACH ROW EXECUTE FUNCTION maildesk_subject_words();

CREATE FUNCTION maildesk_comment_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.public THEN
        UPDATE tickets SET search_words = search_words || NEW.search_words WHERE id = NEW.ticket_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER comments_ticket_words AFTER INSERT OR UPDATE OF public, body_reply, ticket_id ON comments
    FOR EACH ROW EXECUTE FUNCTION maildesk_comment_words();
