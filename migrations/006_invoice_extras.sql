-- When Stripe was last asked about an open invoice ("I paid" before the webhook): bursts of
-- activate_esim calls, from any instance, ask at most once per interval.
ALTER TABLE invoices ADD COLUMN last_checked_at timestamptz;

-- Stripe invoices beyond the one an activation needs. 'superseded': made by a creation attempt
-- that lost its lease, or replaced as the row's invoice by a payment of another one; withdrawn at
-- Stripe (deleted or voided). 'second_payment': paid although the activation was paid already.
-- A row with paid_at is a payment to refund. Keyed by Stripe id: redelivered events add nothing.
CREATE TABLE duplicate_invoices (
  stripe_invoice_id text PRIMARY KEY,
  invoice_id        bigint NOT NULL REFERENCES invoices(id),
  activation_id     bigint NOT NULL REFERENCES activations(id),
  reason            text NOT NULL CHECK (reason IN ('superseded', 'second_payment')),
  amount_paid_cents integer,
  currency          text,
  paid_at           timestamptz,
  detected_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX duplicate_invoices_refunds_due ON duplicate_invoices (paid_at) WHERE paid_at IS NOT NULL;
