-- One row per invoice we ask Stripe for. The row exists before any Stripe call, so its id derives
-- every idempotency key; a `creating` row is finished by whoever holds its lease.
CREATE TABLE invoices (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id            bigint NOT NULL REFERENCES users(id),
  activation_id      bigint NOT NULL REFERENCES activations(id),
  plan_id            text NOT NULL,
  status             text NOT NULL CHECK (status IN ('creating', 'open', 'paid', 'void', 'uncollectible')),
  amount_cents       integer NOT NULL CHECK (amount_cents > 0),
  currency           text NOT NULL,
  stripe_invoice_id  text UNIQUE,
  hosted_invoice_url text,
  creation_attempts  integer NOT NULL DEFAULT 0,
  lease_until        timestamptz,
  last_error         text,
  paid_at            timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
-- One open invoice per user at a time.
CREATE UNIQUE INDEX invoices_one_open_per_user ON invoices (user_id) WHERE status IN ('creating', 'open');
CREATE INDEX invoices_activation ON invoices (activation_id, created_at DESC);
-- One payment per activation.
CREATE UNIQUE INDEX invoices_one_paid_per_activation ON invoices (activation_id) WHERE status = 'paid';

-- Webhook deliveries already applied, by Stripe event id.
CREATE TABLE stripe_events (
  event_id    text PRIMARY KEY,
  type        text NOT NULL,
  stripe_invoice_id text,
  received_at timestamptz NOT NULL DEFAULT now()
);
