// All SQL of the authorization server. Codes and refresh tokens arrive here already hashed.
// Times that decide anything (expiry, single use, rate windows) come from the database clock.
import type { OAuthClientInformationFull } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { Queryable } from '../db/database.js';

export interface AuthorizationRequest {
  id: string;
  client_id: string;
  client: OAuthClientInformationFull;
  redirect_uri: string;
  redirect_uri_given: boolean;
  code_challenge: string;
  state: string | null;
  scopes: string;
  resource: string;
  browser_hash: string;
  user_id: number | null;
  user_email: string | null;
  completed: boolean;
  live: boolean;
}

export interface GrantRow {
  grant_id: number;
  client_id: string;
  user_id: number;
  scopes: string;
  resource: string;
  revoked: boolean;
  grant_created_at: Date;
  firebase_uid: string;
  email: string;
  email_verified: boolean;
}

export interface CodeRow extends GrantRow {
  redirect_uri: string;
  redirect_uri_given: boolean;
  code_challenge: string;
  live: boolean;
}

export interface RefreshRow extends GrantRow {
  used: boolean;
  live: boolean;
}

const GRANT_COLUMNS = `g.id AS grant_id, g.client_id, g.user_id, g.scopes, g.resource, g.revoked_at IS NOT NULL AS revoked,
  g.created_at AS grant_created_at, u.firebase_uid, u.email, u.email_verified`;

export const oauthStore = {
  // --- registered clients -------------------------------------------------------------------
  async getClient(db: Queryable, clientId: string): Promise<OAuthClientInformationFull | undefined> {
    const { rows } = await db.query<{ metadata: OAuthClientInformationFull }>('SELECT metadata FROM oauth_clients WHERE client_id = $1', [
      clientId,
    ]);
    return rows[0]?.metadata;
  },

  async insertClient(db: Queryable, client: OAuthClientInformationFull): Promise<void> {
    await db.query('INSERT INTO oauth_clients (client_id, metadata) VALUES ($1, $2::jsonb)', [client.client_id, JSON.stringify(client)]);
  },

  /** A client known by its metadata document (client_id = its URL): kept as the document last read. */
  async saveMetadataClient(db: Queryable, client: OAuthClientInformationFull): Promise<void> {
    await db.query(
      `INSERT INTO oauth_clients (client_id, metadata) VALUES ($1, $2::jsonb)
       ON CONFLICT (client_id) DO UPDATE SET metadata = EXCLUDED.metadata WHERE oauth_clients.metadata IS DISTINCT FROM EXCLUDED.metadata`,
      [client.client_id, JSON.stringify(client)],
    );
  },

  // --- authorization requests (the pages) ---------------------------------------------------
  async createRequest(
    db: Queryable,
    r: {
      id: string;
      clientId: string;
      redirectUri: string;
      redirectUriGiven: boolean;
      codeChallenge: string;
      state?: string;
      scopes: string;
      resource: string;
      browserHash: string;
      ttlSeconds: number;
    },
  ): Promise<void> {
    await db.query(
      `INSERT INTO oauth_authorization_requests
         (id, client_id, redirect_uri, redirect_uri_given, code_challenge, state, scopes, resource, browser_hash, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(secs => $10))`,
      [r.id, r.clientId, r.redirectUri, r.redirectUriGiven, r.codeChallenge, r.state ?? null, r.scopes, r.resource, r.browserHash, r.ttlSeconds],
    );
  },

  async getRequest(db: Queryable, id: string): Promise<AuthorizationRequest | undefined> {
    const { rows } = await db.query<AuthorizationRequest>(
      `SELECT r.id, r.client_id, c.metadata AS client, r.redirect_uri, r.redirect_uri_given, r.code_challenge, r.state, r.scopes,
              r.resource, r.browser_hash, r.user_id, u.email AS user_email, r.completed_at IS NOT NULL AS completed,
              r.expires_at > now() AS live
         FROM oauth_authorization_requests r
         JOIN oauth_clients c ON c.client_id = r.client_id
         LEFT JOIN users u ON u.id = r.user_id
        WHERE r.id = $1`,
      [id],
    );
    return rows[0];
  },

  async signInRequest(db: Queryable, id: string, userId: number): Promise<void> {
    await db.query('UPDATE oauth_authorization_requests SET user_id = $2, signed_in_at = now() WHERE id = $1 AND completed_at IS NULL', [
      id,
      userId,
    ]);
  },

  /** Marks the request answered; false if it was answered already (a double submit) or expired. */
  async completeRequest(tx: Queryable, id: string): Promise<boolean> {
    const { rowCount } = await tx.query(
      'UPDATE oauth_authorization_requests SET completed_at = now() WHERE id = $1 AND completed_at IS NULL AND expires_at > now()',
      [id],
    );
    return rowCount === 1;
  },

  /**
   * Whether this browser's user answered the consent page for this client and redirect URI: after
   * that, /authorize may send the browser there with an error (requests live an hour past expiry).
   */
  async browserAnswered(db: Queryable, r: { browserHash: string; clientId: string; redirectUri: string }): Promise<boolean> {
    const { rows } = await db.query(
      `SELECT 1 FROM oauth_authorization_requests
        WHERE browser_hash = $1 AND client_id = $2 AND redirect_uri = $3 AND completed_at IS NOT NULL LIMIT 1`,
      [r.browserHash, r.clientId, r.redirectUri],
    );
    return rows.length > 0;
  },

  // --- grants, codes, refresh tokens --------------------------------------------------------
  async createGrant(tx: Queryable, g: { clientId: string; userId: number; scopes: string; resource: string }): Promise<number> {
    const { rows } = await tx.query<{ id: number }>(
      'INSERT INTO oauth_grants (client_id, user_id, scopes, resource) VALUES ($1, $2, $3, $4) RETURNING id',
      [g.clientId, g.userId, g.scopes, g.resource],
    );
    await tx.query('UPDATE oauth_clients SET last_used_at = now() WHERE client_id = $1', [g.clientId]);
    return rows[0]!.id;
  },

  async revokeGrant(db: Queryable, grantId: number, reason: string): Promise<boolean> {
    const { rowCount } = await db.query(
      'UPDATE oauth_grants SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL',
      [grantId, reason],
    );
    return rowCount === 1;
  },

  /** The grant behind an access token, with its user as the users table knows them now. */
  async getGrant(db: Queryable, grantId: number): Promise<GrantRow | undefined> {
    const { rows } = await db.query<GrantRow>(
      `SELECT ${GRANT_COLUMNS} FROM oauth_grants g JOIN users u ON u.id = g.user_id WHERE g.id = $1`,
      [grantId],
    );
    return rows[0];
  },

  async insertCode(
    tx: Queryable,
    c: { hash: string; grantId: number; redirectUri: string; redirectUriGiven: boolean; codeChallenge: string; ttlSeconds: number },
  ): Promise<void> {
    await tx.query(
      `INSERT INTO oauth_codes (code_hash, grant_id, redirect_uri, redirect_uri_given, code_challenge, expires_at)
       VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))`,
      [c.hash, c.grantId, c.redirectUri, c.redirectUriGiven, c.codeChallenge, c.ttlSeconds],
    );
  },

  /** Reads a code without using it up (challengeForAuthorizationCode). */
  async peekCode(db: Queryable, hash: string): Promise<CodeRow | undefined> {
    const { rows } = await db.query<CodeRow>(
      `SELECT ${GRANT_COLUMNS}, c.redirect_uri, c.redirect_uri_given, c.code_challenge, c.expires_at > now() AS live
         FROM oauth_codes c JOIN oauth_grants g ON g.id = c.grant_id JOIN users u ON u.id = g.user_id
        WHERE c.code_hash = $1 AND c.used_at IS NULL`,
      [hash],
    );
    return rows[0];
  },

  /**
   * Uses a code up, exactly once however many requests race: the first request of the client it
   * was issued to gets the row; a later one gets `replayedGrantId` (the code was used before);
   * another client gets `otherClient` and leaves the code as it was.
   */
  async consumeCode(tx: Queryable, hash: string, clientId: string): Promise<{ code?: CodeRow; replayedGrantId?: number; otherClient?: boolean }> {
    const { rows } = await tx.query<CodeRow>(
      `WITH used AS (
         UPDATE oauth_codes c SET used_at = now()
           FROM oauth_grants g
          WHERE c.code_hash = $1 AND c.used_at IS NULL AND g.id = c.grant_id AND g.client_id = $2
         RETURNING c.grant_id, c.redirect_uri, c.redirect_uri_given, c.code_challenge, c.expires_at > now() AS live
       )
       SELECT ${GRANT_COLUMNS}, used.redirect_uri, used.redirect_uri_given, used.code_challenge, used.live
         FROM used JOIN oauth_grants g ON g.id = used.grant_id JOIN users u ON u.id = g.user_id`,
      [hash, clientId],
    );
    if (rows[0]) return { code: rows[0] };
    const { rows: known } = await tx.query<{ grant_id: number; used: boolean; client_id: string }>(
      `SELECT c.grant_id, c.used_at IS NOT NULL AS used, g.client_id
         FROM oauth_codes c JOIN oauth_grants g ON g.id = c.grant_id WHERE c.code_hash = $1`,
      [hash],
    );
    const k = known[0];
    if (!k) return {};
    if (k.client_id !== clientId) return { otherClient: true };
    return k.used ? { replayedGrantId: k.grant_id } : {};
  },

  async insertRefreshToken(tx: Queryable, r: { hash: string; grantId: number; ttlSeconds: number }): Promise<void> {
    await tx.query(
      'INSERT INTO oauth_refresh_tokens (token_hash, grant_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))',
      [r.hash, r.grantId, r.ttlSeconds],
    );
  },

  /** The refresh token and its grant; `forUpdate` locks the token row until the transaction ends. */
  async getRefreshToken(db: Queryable, hash: string, opts: { forUpdate?: boolean } = {}): Promise<RefreshRow | undefined> {
    const { rows } = await db.query<RefreshRow>(
      `SELECT ${GRANT_COLUMNS}, r.used_at IS NOT NULL AS used, r.expires_at > now() AS live
         FROM oauth_refresh_tokens r JOIN oauth_grants g ON g.id = r.grant_id JOIN users u ON u.id = g.user_id
        WHERE r.token_hash = $1 ${opts.forUpdate ? 'FOR UPDATE OF r' : ''}`,
      [hash],
    );
    return rows[0];
  },

  async markRefreshTokenUsed(tx: Queryable, hash: string): Promise<boolean> {
    const { rowCount } = await tx.query('UPDATE oauth_refresh_tokens SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL', [hash]);
    return rowCount === 1;
  },

  /** Whose code or refresh token this is (for the per-user limit on the token endpoint). */
  async userForSecret(db: Queryable, hash: string): Promise<number | undefined> {
    const { rows } = await db.query<{ user_id: number }>(
      `SELECT g.user_id FROM oauth_codes c JOIN oauth_grants g ON g.id = c.grant_id WHERE c.code_hash = $1
       UNION ALL
       SELECT g.user_id FROM oauth_refresh_tokens r JOIN oauth_grants g ON g.id = r.grant_id WHERE r.token_hash = $1
       LIMIT 1`,
      [hash],
    );
    return rows[0]?.user_id;
  },

  // --- local signing key --------------------------------------------------------------------
  async getSigningKey(db: Queryable, name: string): Promise<Record<string, unknown> | undefined> {
    const { rows } = await db.query<{ private_jwk: Record<string, unknown> }>('SELECT private_jwk FROM oauth_signing_keys WHERE name = $1', [
      name,
    ]);
    return rows[0]?.private_jwk;
  },

  /** Keeps the first key any instance stored; returns the one that is kept. */
  async storeSigningKey(db: Queryable, name: string, jwk: Record<string, unknown>): Promise<Record<string, unknown>> {
    await db.query('INSERT INTO oauth_signing_keys (name, private_jwk) VALUES ($1, $2::jsonb) ON CONFLICT (name) DO NOTHING', [
      name,
      JSON.stringify(jwk),
    ]);
    return (await oauthStore.getSigningKey(db, name))!;
  },

  // --- rate limits --------------------------------------------------------------------------
  /** Counts one hit in the current minute for `key`; returns the hits so far and the seconds left in the window. */
  async hit(db: Queryable, key: string): Promise<{ hits: number; retryAfterSeconds: number }> {
    const { rows } = await db.query<{ hits: number; retry_after: number }>(
      `INSERT INTO oauth_rate_buckets (key, bucket_start, hits) VALUES ($1, date_trunc('minute', clock_timestamp()), 1)
       ON CONFLICT (key, bucket_start) DO UPDATE SET hits = oauth_rate_buckets.hits + 1
       RETURNING hits, ceil(extract(epoch FROM bucket_start + interval '1 minute' - clock_timestamp()))::integer AS retry_after`,
      [key],
    );
    return { hits: rows[0]!.hits, retryAfterSeconds: Math.max(1, rows[0]!.retry_after) };
  },

  // --- housekeeping -------------------------------------------------------------------------
  async prune(db: Queryable): Promise<void> {
    await db.query(`DELETE FROM oauth_rate_buckets WHERE bucket_start < now() - interval '10 minutes'`);
    await db.query(`DELETE FROM oauth_authorization_requests WHERE expires_at < now() - interval '1 hour'`);
    await db.query(`DELETE FROM oauth_codes WHERE expires_at < now() - interval '1 day'`);
    // Rotated refresh tokens stay until they expire: presenting one again is how a leak shows.
    await db.query(`DELETE FROM oauth_refresh_tokens WHERE expires_at < now() - interval '1 day'`);
    // A grant goes a day after its last refresh token expired: longer than any access token lives.
    await db.query(
      `DELETE FROM oauth_grants g WHERE g.revoked_at < now() - interval '30 days'
          OR (g.created_at < now() - interval '1 day'
              AND NOT EXISTS (SELECT 1 FROM oauth_refresh_tokens r WHERE r.grant_id = g.id AND r.expires_at > now() - interval '1 day'))`,
    );
    await db.query(
      `DELETE FROM oauth_clients c WHERE c.last_used_at IS NULL AND c.created_at < now() - interval '1 day'
          AND NOT EXISTS (SELECT 1 FROM oauth_authorization_requests r WHERE r.client_id = c.client_id)`,
    );
  },
};
