// MCP tool calls through the SDK client, as an assistant makes them.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { expect } from 'vitest';
import type { ActivateEsimResult } from '../../src/mcp/tools/activate-esim.js';

export interface ToolAnswer<T> {
  structured: T;
  text: string;
  /** Everything the assistant receives, as one string (to prove what is never in it). */
  raw: string;
}

const textOf = (content: unknown) => (content as Array<{ type: string; text?: string }>).map((c) => c.text ?? '').join('\n');

/** Calls a tool that must succeed; a tool error fails the test with the text the assistant got. */
export async function callTool<T>(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer<T>> {
  const result = await client.callTool({ name, arguments: args });
  expect(result.isError ?? false, JSON.stringify(result.content)).toBe(false);
  return { structured: result.structuredContent as unknown as T, text: textOf(result.content), raw: JSON.stringify(result) };
}

/** Calls a tool that must answer with a tool error; returns the text the assistant reads. */
export async function callToolExpectingError(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  expect(result.isError, JSON.stringify(result.structuredContent)).toBe(true);
  return textOf(result.content);
}

export type ActivateAnswer = ToolAnswer<ActivateEsimResult>;

export const activateEsim = (client: Client, args: Record<string, unknown> = {}): Promise<ActivateAnswer> =>
  callTool<ActivateEsimResult>(client, 'activate_esim', args);

/** activate_esim's structured answer alone, for the tests that read only the status and invoice. */
export const activate = async (client: Client): Promise<ActivateEsimResult> => (await activateEsim(client)).structured;
