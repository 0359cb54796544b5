-- The OAuth 2.1 authorization server in front of Firebase: registered clients (assistants),
-- pending authorization requests (the sign-in and consent pages), grants (one per consent), and
-- the codes and refresh tokens issued under a grant. Codes and refresh tokens are stored only as
-- SHA-256 hashes; access tokens are signed JWTs that name their grant (`sid`), so revoking the grant
-- ends them all.
CREATE TABLE oauth_clients (
  client_id     text PRIMARY KEY,
  -- The registration as answered to the client (RFC 7591), public clients only: no secret.
  metadata      jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  -- Set when a user first consents; registrations never used are pruned after a day.
  last_used_at  timestamptz
);

CREATE TABLE oauth_authorization_requests (
  id                 text PRIMARY KEY,
  client_id          text NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
  redirect_uri       text NOT NULL,
  -- Whether the client named redirect_uri (then the token request must repeat it).
  redirect_uri_given boolean NOT NULL,
  code_challenge     text NOT NULL,
  state              text,
  scopes             text NOT NULL,
  resource           text NOT NULL,
  -- SHA-256 of the nonce in the browser's cookie: the pages answer only the browser that began.
  browser_hash       text NOT NULL,
  user_id            bigint REFERENCES users(id) ON DELETE CASCADE,
  signed_in_at       timestamptz,
  completed_at       timestamptz,
  expires_at         timestamptz NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_authorization_requests_expiry ON oauth_authorization_requests (expires_at);

CREATE TABLE oauth_grants (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  client_id      text NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
  user_id        bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  scopes         text NOT NULL,
  resource       text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  revoked_at     timestamptz,
  revoked_reason text
);
CREATE INDEX oauth_grants_user ON oauth_grants (user_id);
CREATE INDEX oauth_grants_revoked ON oauth_grants (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE oauth_codes (
  code_hash          text PRIMARY KEY,
  grant_id           bigint NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
  redirect_uri       text NOT NULL,
  redirect_uri_given boolean NOT NULL,
  code_challenge     text NOT NULL,
  expires_at         timestamptz NOT NULL,
  used_at            timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);
CREATE INDEX oauth_codes_grant ON oauth_codes (grant_id);

CREATE TABLE oauth_refresh_tokens (
  token_hash  text PRIMARY KEY,
  grant_id    bigint NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
  expires_at  timestamptz NOT NULL,
  -- Set when rotated: presenting it again means it leaked, and the grant is revoked.
  used_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_refresh_tokens_grant ON oauth_refresh_tokens (grant_id);
CREATE INDEX oauth_refresh_tokens_expiry ON oauth_refresh_tokens (expires_at);

-- Local mode only (OAUTH_SIGNING_KEY unset): the access-token key pair generated once and shared
-- by every instance and restart. Production takes its key from configuration instead.
CREATE TABLE oauth_signing_keys (
  name        text PRIMARY KEY,
  private_jwk jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Fixed one-minute windows for the authorization server's abuse limits, keyed by client, user,
-- IP (sign-in pages only) or 'registrations': exact across instances.
CREATE TABLE oauth_rate_buckets (
  key          text NOT NULL,
  bucket_start timestamptz NOT NULL,
  hits         integer NOT NULL,
  PRIMARY KEY (key, bucket_start)
);
