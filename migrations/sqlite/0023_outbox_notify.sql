-- PostgreSQL's nodes hear of queued mail through LISTEN/NOTIFY (see its 0023). SQLite has
-- one node: its sender is woken in-process. Kept so that both schemas count alike.
SELECT 1;
