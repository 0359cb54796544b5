// The 401 an MCP client must be able to act on: a Bearer challenge naming the resource metadata.
import { expect } from 'vitest';
import { MCP_PATH } from '../../src/mcp/endpoint.js';

/** Checks the challenge and returns the metadata URL it names. */
export function expectBearerChallenge(header: string | null | undefined, baseUrl: string): string {
  const challenge = String(header ?? '');
  expect(challenge).toMatch(/^Bearer /);
  expect(challenge).toContain('error="invalid_token"');
  const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
  expect(metadataUrl).toBe(`${baseUrl}/.well-known/oauth-protected-resource${MCP_PATH}`);
  return metadataUrl!;
}
