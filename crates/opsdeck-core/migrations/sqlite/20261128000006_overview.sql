-- The Overview page counts what finished and what was paid in the last hour, every few seconds
-- while a console is open: these indexes keep that to a range read.
CREATE INDEX ocr_requests_finished ON ocr_requests (finished_at);
CREATE INDEX order_events_event_at ON order_events (event, at);
