// POST /mcp/v2/messages: MCP over Streamable HTTP, stateless. The official SDK's McpServer answers
// every message (through the multiplexing transport in ./dispatcher.ts); this entry point does the
// HTTP side of the Streamable HTTP transport: JSON-RPC validation (-32700 / -32600), the bearer
// check for tools that act for a user, the protocol-version header, 202 for notifications, and the
// answer as SSE for clients that accept text/event-stream and as plain JSON for everyone else
// (curl's */*, no Accept, application/json alone) — never a 406.
import {
  isJSONRPCNotification,
  isJSONRPCRequest,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type MessageExtraInfo,
} from '@modelcontextprotocol/sdk/types.js';
import type { Request, Response } from 'express';
import type { Caller } from '../identity/caller.js';
import type { Logger } from '../logger.js';
import type { McpDispatcher } from './dispatcher.js';
import type { RequestContext } from './tool.js';
import { AUTH_REQUIRED_TOOLS } from './tools/index.js';

export const MCP_PATH = '/mcp/v2/messages';
/**
 * The same endpoint at the conventional path: some clients (the MCP Inspector CLI among them)
 * replace any URL path that does not end in /mcp with /mcp.
 */
export const MCP_ALIAS_PATH = '/mcp';
export const MCP_PATHS = [MCP_PATH, MCP_ALIAS_PATH];
const MAX_BATCH = 100;

export function jsonRpcError(res: Response, status: number, code: number, message: string, id: unknown = null): void {
  res.status(status).json({ jsonrpc: '2.0', id: id ?? null, error: { code, message } });
}

export interface McpEndpointDeps {
  dispatcher: McpDispatcher;
  /** Resolves the caller from the Authorization header; throws InvalidTokenError on a bad token. */
  authenticate(req: Request, required: boolean): Promise<Caller | undefined>;
}

const idOf = (m: unknown) => {
  const id = m && typeof m === 'object' && 'id' in m ? (m as { id: unknown }).id : null;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
};

/**
 * The JSON-RPC 2.0 envelope (a request, notification or response); what goes inside `params` is
 * checked by the SDK's schema for each method (→ -32602). A plain check: on this hot path the
 * zod union costs more than the tool call.
 */
function isJsonRpcMessage(m: unknown): m is JSONRPCMessage {
  if (!m || typeof m !== 'object' || Array.isArray(m)) return false;
  const o = m as Record<string, unknown>;
  if (o.jsonrpc !== '2.0') return false;
  const hasId = 'id' in o;
  if (hasId && typeof o.id !== 'string' && !(typeof o.id === 'number' && Number.isInteger(o.id))) return false;
  if (typeof o.method === 'string') {
    return o.params === undefined || (typeof o.params === 'object' && o.params !== null && !Array.isArray(o.params));
  }
  return hasId && 'result' in o !== 'error' in o;
}

function needsSignIn(messages: JSONRPCMessage[]): boolean {
  return messages.some((m) => {
    const msg = m as { method?: unknown; params?: { name?: unknown } };
    return msg.method === 'tools/call' && typeof msg.params?.name === 'string' && AUTH_REQUIRED_TOOLS.has(msg.params.name);
  });
}

export function createMcpPostHandler(deps: McpEndpointDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const body: unknown = req.body;
    const batch = Array.isArray(body);
    const raw = batch ? body : [body];
    if (body === undefined || body === null || raw.length === 0 || raw.length > MAX_BATCH) {
      return jsonRpcError(
        res,
        400,
        -32600,
        raw.length > MAX_BATCH
          ? `Invalid Request: a batch may hold at most ${MAX_BATCH} messages`
          : 'Invalid Request: the body must be a JSON-RPC 2.0 request object',
      );
    }
    const messages: JSONRPCMessage[] = [];
    for (const m of raw) {
      if (!isJsonRpcMessage(m)) {
        return jsonRpcError(
          res,
          400,
          -32600,
          'Invalid Request: expected a JSON-RPC 2.0 message {"jsonrpc":"2.0","id":…,"method":"…","params":{…}}',
          idOf(m),
        );
      }
      messages.push(m);
    }
    const protocolVersion = req.headers['mcp-protocol-version'];
    if (typeof protocolVersion === 'string' && !SUPPORTED_PROTOCOL_VERSIONS.includes(protocolVersion)) {
      return jsonRpcError(
        res,
        400,
        -32000,
        `Bad Request: unsupported protocol version ${protocolVersion} (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
      );
    }

    const caller = await deps.authenticate(req, needsSignIn(messages));
    const context: RequestContext = { caller, logger: (req as Request & { log?: Logger }).log };
    const extra: MessageExtraInfo = {
      authInfo: { token: '', clientId: caller?.clientId ?? '', scopes: [], extra: context as Record<string, unknown> },
    };

    for (const m of messages) if (isJSONRPCNotification(m)) deps.dispatcher.notify(m, extra);
    const requests = messages.filter(isJSONRPCRequest);
    if (requests.length === 0) {
      res.status(202).end();
      return;
    }
    const answers = await Promise.all(requests.map((m) => deps.dispatcher.request(m, extra)));

    if ((req.headers.accept ?? '').includes('text/event-stream')) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });
      for (const answer of answers) res.write(`event: message\ndata: ${JSON.stringify(answer)}\n\n`);
      res.end();
      return;
    }
    res.status(200).json(batch ? answers : answers[0]);
  };
}
