-- A send whose outcome is unknown (the relay went silent or the connection broke after the message
-- may have been taken, or the send ran out of time) is marked 'unknown': it is retried, with the
-- same Message-ID, only after the relay could have answered, never at once.
ALTER TABLE email_outbox DROP CONSTRAINT email_outbox_status_check;
ALTER TABLE email_outbox ADD CONSTRAINT email_outbox_status_check CHECK (status IN ('pending', 'unknown', 'sent', 'dead'));
DROP INDEX email_outbox_due;
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE status IN ('pending', 'unknown');
