-- Users are created on first verified sight (Firebase uid + verified e-mail from the token).
CREATE TABLE users (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  firebase_uid    text NOT NULL UNIQUE,
  email           text NOT NULL,
  email_verified  boolean NOT NULL DEFAULT false,
  stripe_customer_id text UNIQUE,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  last_seen_at    timestamptz NOT NULL DEFAULT now()
);

-- Per-user call counting in fixed one-minute buckets (abuse limit; exact across instances).
CREATE TABLE user_call_buckets (
  user_id      bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  bucket_start timestamptz NOT NULL,
  calls        integer NOT NULL,
  PRIMARY KEY (user_id, bucket_start)
);
