-- The activation state machine: awaiting_payment → queued → activating → active | failed.
-- `paid_at` orders the queue (FIFO by payment time); `started_at` is the moment the activation was
-- admitted under the hourly limit, by the database clock: the rolling window counts these.
CREATE TABLE activations (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id          bigint NOT NULL REFERENCES users(id),
  plan_id          text NOT NULL,
  status           text NOT NULL CHECK (status IN ('awaiting_payment', 'queued', 'activating', 'active', 'failed')),
  paid_at          timestamptz,
  started_at       timestamptz,
  lease_until      timestamptz,
  attempts         integer NOT NULL DEFAULT 0,
  oxio_end_user_id text,
  oxio_line_id     text,
  iccid            text,
  phone_number     text,
  lpa_code         text,
  last_error       text,
  activated_at     timestamptz,
  failed_at        timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CHECK (status IN ('awaiting_payment') OR paid_at IS NOT NULL)
);
CREATE INDEX activations_queue ON activations (paid_at, id) WHERE status = 'queued';
CREATE INDEX activations_started ON activations (started_at) WHERE started_at IS NOT NULL;
CREATE INDEX activations_in_flight ON activations (lease_until) WHERE status = 'activating';
-- The beta is one eSIM per user: at most one activation that has not failed.
CREATE UNIQUE INDEX activations_one_live_per_user ON activations (user_id) WHERE status <> 'failed';
