-- A primary contact of an organisation sees all of its tickets (MISSION ACC8); a standard
-- contact sees those they ask or are copied on.
ALTER TABLE contacts ADD COLUMN is_primary BOOLEAN NOT NULL DEFAULT FALSE;

-- Whether our side wrote a comment (a staff member, or the desk itself), recorded when it is
-- written: a customer is shown a staff member by name, never by address, even once they
-- have left the staff. Comments written before are ours when the desk wrote them (no
-- author) or their author is in the staff table now (staff listed only in the config cannot
-- be known here).
ALTER TABLE comments ADD COLUMN from_staff BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE comments SET from_staff = TRUE
 WHERE author_id IS NULL
    OR author_id IN (SELECT c.id FROM contacts c JOIN staff s ON s.email = c.email);
