-- The Audit page filters by who acted and by the action or its family (`job.`, a prefix LIKE an
-- index serves); sorted by either, the index gives the order too.
CREATE INDEX audit_log_who ON audit_log (who);
CREATE INDEX audit_log_action ON audit_log (action);
