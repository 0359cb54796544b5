-- The activation state machine: awaiting_payment → queued → activating → active | failed.
-- The queue is FIFO by payment time (`queue_seq`, taken when the payment is recorded); `started_at` is the moment the activation was
-- admitted under the hourly limit, by the database clock: the rolling window counts these.
CREATE TABLE activations (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id          bigint NOT NULL REFERENCES users(id),
  plan_id          text NOT NULL,
  status           text NOT NULL CHECK (status IN ('awaiting_payment', 'queued', 'activating', 'active', 'failed')),
  paid_at          timestamptz,
  queue_seq        bigint UNIQUE,
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
CREATE INDEX activations_queue ON activations (queue_seq) WHERE status = 'queued';
CREATE INDEX activations_started ON activations (started_at) WHERE started_at IS NOT NULL;
CREATE INDEX activations_in_flight ON activations (lease_until) WHERE status = 'activating';
-- The beta is one eSIM per user: at most one activation that has not failed.
CREATE UNIQUE INDEX activations_one_live_per_user ON activations (user_id) WHERE status <> 'failed';

-- The queue in O(1): a paid activation takes the next `enqueued` number (gapless: assigned in the
-- payment's transaction), admission takes queued activations in that order and counts `admitted`.
-- Position = queue_seq - admitted; queue length = enqueued - admitted.
CREATE TABLE activation_queue_counters (
  id       boolean PRIMARY KEY DEFAULT true CHECK (id),
  enqueued bigint NOT NULL DEFAULT 0,
  admitted bigint NOT NULL DEFAULT 0
);
INSERT INTO activation_queue_counters DEFAULT VALUES;
