// POST /mcp/v2/messages: MCP over Streamable HTTP, stateless. The SDK's web-standard transport does
// the protocol; this entry point adds what it leaves out: plain JSON for clients that do not accept
// SSE (curl's */*, none, application/json alone), JSON-RPC -32600 for invalid requests, the bearer
// check for tools that act for a user, and the conversion between Express and web Request/Response.
import { Readable } from 'node:stream';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Request, Response } from 'express';
import type { Catalog } from '../catalog/catalog.js';
import type { Metrics } from '../http/metrics.js';
import type { Caller } from '../identity/caller.js';
import type { Logger } from '../logger.js';
import type { ActivationFacade } from './activation-facade.js';
import { createMcpServer } from './server.js';
import { AUTH_REQUIRED_TOOLS } from './tools/index.js';

export const MCP_PATH = '/mcp/v2/messages';
/**
 * The same endpoint at the conventional path: some clients (the MCP Inspector CLI among them)
 * replace any URL path that does not end in /mcp with /mcp.
 */
export const MCP_ALIAS_PATH = '/mcp';
export const MCP_PATHS = [MCP_PATH, MCP_ALIAS_PATH];

export function jsonRpcError(res: Response, status: number, code: number, message: string, id: unknown = null): void {
  res.status(status).json({ jsonrpc: '2.0', id: id ?? null, error: { code, message } });
}

export interface McpEndpointDeps {
  catalog: Catalog;
  metrics: Metrics;
  activation?: ActivationFacade;
  /** Resolves the caller from the Authorization header; throws InvalidTokenError on a bad token. */
  authenticate(req: Request, required: boolean): Promise<Caller | undefined>;
}

const idOf = (m: unknown) => (m && typeof m === 'object' && 'id' in m ? (m as { id: unknown }).id : null);

function needsSignIn(messages: unknown[]): boolean {
  return messages.some((m) => {
    const msg = m as { method?: unknown; params?: { name?: unknown } };
    return msg.method === 'tools/call' && typeof msg.params?.name === 'string' && AUTH_REQUIRED_TOOLS.has(msg.params.name);
  });
}

export function createMcpPostHandler(deps: McpEndpointDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const body: unknown = req.body;
    const messages = Array.isArray(body) ? body : [body];
    if (body === undefined || body === null || (Array.isArray(body) && body.length === 0)) {
      return jsonRpcError(res, 400, -32600, 'Invalid Request: the body must be a JSON-RPC 2.0 request object');
    }
    for (const m of messages) {
      const parsed = JSONRPCMessageSchema.safeParse(m);
      if (!parsed.success) {
        const id = idOf(m);
        return jsonRpcError(
          res,
          400,
          -32600,
          'Invalid Request: expected a JSON-RPC 2.0 message {"jsonrpc":"2.0","id":…,"method":"…","params":{…}}',
          typeof id === 'string' || typeof id === 'number' ? id : null,
        );
      }
    }

    const caller = await deps.authenticate(req, needsSignIn(messages));
    const log = (req as Request & { log: Logger }).log;

    const wantsSse = (req.headers.accept ?? '').includes('text/event-stream');
    const server = createMcpServer({ catalog: deps.catalog, logger: log, caller, activation: deps.activation }, deps.metrics);
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: !wantsSse });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);

    const headers = new Headers();
    headers.set('accept', 'application/json, text/event-stream');
    headers.set('content-type', 'application/json');
    const protocolVersion = req.headers['mcp-protocol-version'];
    if (typeof protocolVersion === 'string') headers.set('mcp-protocol-version', protocolVersion);
    const webRequest = new globalThis.Request(`http://localhost${MCP_PATH}`, { method: 'POST', headers });
    const webResponse = await transport.handleRequest(webRequest, { parsedBody: body });

    res.status(webResponse.status);
    webResponse.headers.forEach((value, key) => res.setHeader(key, value));
    if (!webResponse.body) {
      res.end();
      return;
    }
    if (wantsSse && webResponse.headers.get('content-type')?.startsWith('text/event-stream')) {
      res.flushHeaders();
      Readable.fromWeb(webResponse.body as import('node:stream/web').ReadableStream).pipe(res);
      return;
    }
    res.end(Buffer.from(await webResponse.arrayBuffer()));
  };
}
