// POST /mcp/v2/messages: MCP over Streamable HTTP, stateless. The official SDK's McpServer answers
// every message (through the multiplexing transport in ./dispatcher.ts); this entry point does the
// HTTP side of the Streamable HTTP transport: JSON-RPC validation (-32700 / -32600), the bearer
// check for tools that act for a user, the protocol-version header, 202 when nothing needs an
// answer, and the answer as SSE for clients that accept text/event-stream and as plain JSON for
// everyone else (curl's */*, no Accept, application/json alone) — never a 406. Each request and
// each invalid message gets exactly one answer with its id; a batch is answered message by message.
import {
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCNotification,
  type JSONRPCRequest,
  type JSONRPCResponse,
  type MessageExtraInfo,
} from '@modelcontextprotocol/sdk/types.js';
import type { Request, Response } from 'express';
import type { Caller } from '../identity/caller.js';
import type { Logger } from '../logger.js';
import { HangUp, type McpDispatcher } from './dispatcher.js';
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

const RELATED_TASK_KEY = 'io.modelcontextprotocol/related-task';
const INVALID_MESSAGE = 'Invalid Request: expected a JSON-RPC 2.0 message {"jsonrpc":"2.0","id":…,"method":"…","params":{…}}';

/** The id to answer an invalid message with: its own when it has a usable one, else null. */
const idOf = (m: unknown): string | number | null => {
  const id = m && typeof m === 'object' && !Array.isArray(m) ? (m as { id?: unknown }).id : null;
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
};

type Fields = Record<string, unknown>;
const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const isRequestId = (v: unknown) => typeof v === 'string' || Number.isSafeInteger(v);
const isMeta = (meta: Fields) => {
  const task = meta[RELATED_TASK_KEY];
  return (
    (meta.progressToken === undefined || isRequestId(meta.progressToken)) &&
    (task === undefined || (isObject(task) && typeof task.taskId === 'string'))
  );
};
/** `params` and `result`: an object whose `_meta`, when present, is well formed. */
const hasValidMeta = (v: unknown) => isObject(v) && (v._meta === undefined || (isObject(v._meta) && isMeta(v._meta)));

export type MessageKind = 'request' | 'notification' | 'response';

/**
 * What the SDK's JSONRPCMessageSchema makes of a message — request, notification, response, or
 * nothing — decided by plain checks: on this hot path the zod union costs more than the tool call.
 * Same rules: no extra top-level fields, ids are strings or safe integers, params/result/_meta
 * shaped as the SDK expects (test/mcp/envelope.test.ts compares the two on generated messages).
 */
export function classifyMessage(m: unknown): MessageKind | undefined {
  if (!isObject(m) || m.jsonrpc !== '2.0') return undefined;
  let id = false;
  let method = false;
  let params = false;
  let result = false;
  let error = false;
  for (const key in m) {
    if (key === 'id') id = true;
    else if (key === 'method') method = true;
    else if (key === 'params') params = true;
    else if (key === 'result') result = true;
    else if (key === 'error') error = true;
    else if (key !== 'jsonrpc') return undefined;
  }
  if (id && !isRequestId(m.id)) return undefined;
  if (method) {
    if (result || error || typeof m.method !== 'string' || (params && !hasValidMeta(m.params))) return undefined;
    return id ? 'request' : 'notification';
  }
  if (params) return undefined;
  if (result) return id && !error && hasValidMeta(m.result) ? 'response' : undefined;
  if (error) {
    const e = m.error;
    return isObject(e) && Number.isSafeInteger(e.code) && typeof e.message === 'string' ? 'response' : undefined;
  }
  return undefined;
}

function needsSignIn(messages: ReadonlyArray<JSONRPCRequest | JSONRPCResponse>): boolean {
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
    // One slot per answer, in the order of the batch: a request, or an invalid message's error.
    // Every message that is not a valid notification or response is answered, never dropped.
    const slots: Array<JSONRPCRequest | JSONRPCResponse> = [];
    const notifications: JSONRPCNotification[] = [];
    let requests = 0;
    let valid = 0;
    for (const m of raw) {
      const kind = classifyMessage(m);
      if (kind === undefined) {
        slots.push({ jsonrpc: '2.0', id: idOf(m), error: { code: -32600, message: INVALID_MESSAGE } } as JSONRPCResponse);
        continue;
      }
      valid += 1;
      if (kind === 'request') {
        slots.push(m as JSONRPCRequest);
        requests += 1;
      } else if (kind === 'notification') notifications.push(m as JSONRPCNotification);
    }
    if (valid === 0) {
      res.status(400).json(batch ? slots : slots[0]);
      return;
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

    const caller = await deps.authenticate(req, requests > 0 && needsSignIn(slots));
    const extra = messageExtra(req, caller);

    for (const m of notifications) deps.dispatcher.notify(m, extra);
    if (slots.length === 0) {
      res.status(202).end();
      return;
    }
    let answers: JSONRPCResponse[];
    if (requests === 0) answers = slots as JSONRPCResponse[];
    else {
      // A caller who hangs up ends its own requests; nobody else can. The answer is written only
      // after every request is answered, so a 'close' before that is the caller going away.
      const line = new HangUp();
      res.once('close', () => line.hangUp());
      answers = await Promise.all(slots.map((m) => ('method' in m ? deps.dispatcher.request(m, extra, line) : m)));
    }
    writeAnswers(req, res, batch, answers);
  };
}

/**
 * What the dispatcher hands each tool: the caller and the request's logger, made on first use
 * (src/http/request-log.ts): most calls never log. A class, not an object literal with a getter,
 * which V8 builds on a slow path on every request.
 */
class EndpointContext implements RequestContext {
  constructor(
    private readonly req: Request,
    readonly caller: Caller | undefined,
  ) {}

  get logger(): Logger | undefined {
    return (this.req as Request & { log?: Logger }).log;
  }
}

function messageExtra(req: Request, caller: RequestContext['caller']): MessageExtraInfo {
  const context = new EndpointContext(req, caller);
  return {
    authInfo: { token: '', clientId: caller?.clientId ?? '', scopes: [], extra: context as unknown as Record<string, unknown> },
  };
}

/** As an event stream if the caller accepts one, else as JSON; a batch answered as a batch. */
function writeAnswers(req: Request, res: Response, batch: boolean, answers: JSONRPCResponse[]): void {
  if ((req.headers.accept ?? '').includes('text/event-stream')) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });
    for (const answer of answers) res.write(`event: message\ndata: ${JSON.stringify(answer)}\n\n`);
    res.end();
    return;
  }
  // Express's res.json would parse and rewrite the content type twice and copy the body into a
  // Buffer (node then writes headers and body apart); for this one known type, node's own
  // `end` with the string sets Content-Length and sends headers and body in one write.
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(batch ? answers : answers[0]));
}
