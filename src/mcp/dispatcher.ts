// One McpServer per process, shared by every HTTP request. The endpoint is stateless, so nothing
// ties a request to a session; building a server (and the SDK's web Request/Response transport)
// per POST cost about three times the CPU of this design (`npm run bench -- mcp`). This transport
// multiplexes: each incoming request gets a random internal JSON-RPC id on the way in and its own id
// back on the way out, and carries its caller in `authInfo`, so concurrent requests never mix.
//
// Because the server is shared, no caller may reach another caller's request: notifications that
// name a request (cancelled, progress) are not passed on, and internal ids cannot be guessed. A
// request ends only for its own caller: when the HTTP client goes away, at the deadline, or at
// shutdown — and every request is answered exactly once.
import { randomUUID } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  type JSONRPCErrorResponse,
  type JSONRPCMessage,
  type JSONRPCNotification,
  type JSONRPCRequest,
  type JSONRPCResponse,
  type MessageExtraInfo,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../logger.js';
import { requestContextOf } from './tool.js';

/** Client notifications the shared server may see: none of them refers to another request. */
const FORWARDED_NOTIFICATIONS = new Set(['notifications/initialized']);

export const SHUTTING_DOWN_MESSAGE = 'The service is restarting; please send the request again in a moment.';

const errorAnswer = (id: RequestId, code: number, message: string): JSONRPCErrorResponse => ({ jsonrpc: '2.0', id, error: { code, message } });

interface Pending {
  /** The caller's own id, put back on the answer. */
  readonly id: RequestId;
  readonly method: string;
  readonly expires: number;
  readonly extra: MessageExtraInfo;
  settle(answer: JSONRPCResponse): void;
}

class MultiplexTransport implements Transport {
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  /** By internal id, in arrival order, which is also deadline order. */
  private readonly pending = new Map<string, Pending>();
  private sweeper?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly logger?: Logger,
  ) {}

  async start(): Promise<void> {
    // One timer for every deadline instead of one per request.
    this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.min(1000, Math.floor(this.timeoutMs / 4))));
    this.sweeper.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    for (const [key, p] of this.pending) this.finish(key, p, errorAnswer(p.id, ErrorCode.ConnectionClosed, SHUTTING_DOWN_MESSAGE));
    this.onclose?.();
  }

  async send(message: JSONRPCMessage): Promise<void> {
    // Only answers to requests go back; a stateless endpoint has no stream for server notifications.
    if (!('id' in message) || message.id === undefined || !('result' in message || 'error' in message)) return;
    const key = String(message.id);
    const p = this.pending.get(key);
    if (p) this.finish(key, p, { ...message, id: p.id } as JSONRPCResponse);
  }

  inFlight(): number {
    return this.pending.size;
  }

  request(message: JSONRPCRequest, extra: MessageExtraInfo, signal?: AbortSignal): Promise<JSONRPCResponse> {
    if (this.closed) return Promise.resolve(errorAnswer(message.id, ErrorCode.ConnectionClosed, SHUTTING_DOWN_MESSAGE));
    if (signal?.aborted) return Promise.resolve(errorAnswer(message.id, ErrorCode.ConnectionClosed, 'The request was cancelled'));
    const key = randomUUID();
    return new Promise((resolve) => {
      let settle = resolve;
      if (signal) {
        // The caller hung up: nobody will read the answer, so the request ends here.
        const onAbort = () => {
          const p = this.pending.get(key);
          if (p) this.finish(key, p, errorAnswer(message.id, ErrorCode.ConnectionClosed, 'The request was cancelled'), 'the caller went away');
        };
        signal.addEventListener('abort', onAbort, { once: true });
        settle = (answer) => {
          signal.removeEventListener('abort', onAbort);
          resolve(answer);
        };
      }
      this.pending.set(key, { id: message.id, method: message.method, expires: Date.now() + this.timeoutMs, extra, settle });
      try {
        this.onmessage?.({ ...message, id: key }, extra);
      } catch (err) {
        const p = this.pending.get(key);
        if (p) this.finish(key, p, errorAnswer(message.id, ErrorCode.InternalError, 'Internal error'));
        this.logger?.error({ err, method: message.method }, 'MCP request could not be dispatched');
      }
    });
  }

  notify(message: JSONRPCNotification, extra: MessageExtraInfo): void {
    if (FORWARDED_NOTIFICATIONS.has(message.method)) this.onmessage?.(message, extra);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, p] of this.pending) {
      if (p.expires > now) break;
      (requestContextOf(p.extra).logger ?? this.logger)?.warn({ method: p.method, timeoutMs: this.timeoutMs }, 'MCP request timed out');
      this.finish(key, p, errorAnswer(p.id, ErrorCode.RequestTimeout, `The request took too long (limit ${this.timeoutMs} ms); please try again.`), 'deadline');
    }
  }

  /** Answers the caller once; when the handler may still run, tells the server to stop it. */
  private finish(key: string, p: Pending, answer: JSONRPCResponse, abortReason?: string): void {
    this.pending.delete(key);
    p.settle(answer);
    if (abortReason && !this.closed) {
      // Only this transport can name an internal id: the handler's signal is aborted and the SDK
      // drops its late answer.
      this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: key, reason: abortReason } });
    }
  }
}

export interface McpDispatcher {
  /** Answers exactly once: the server's answer, or an error at the deadline, on `signal` or at close. */
  request(message: JSONRPCRequest, extra: MessageExtraInfo, signal?: AbortSignal): Promise<JSONRPCResponse>;
  notify(message: JSONRPCNotification, extra: MessageExtraInfo): void;
  /** Requests waiting for their answer. */
  inFlight(): number;
  /** Answers every request in flight with an error, then closes the server. */
  close(): Promise<void>;
}

export interface McpDispatcherOptions {
  /** A request not answered by then gets a JSON-RPC error (MCP_REQUEST_TIMEOUT_MS). */
  timeoutMs: number;
  logger?: Logger;
}

export async function createMcpDispatcher(server: McpServer, options: McpDispatcherOptions): Promise<McpDispatcher> {
  const transport = new MultiplexTransport(options.timeoutMs, options.logger);
  await server.connect(transport);
  return {
    request: (message, extra, signal) => transport.request(message, extra, signal),
    notify: (message, extra) => transport.notify(message, extra),
    inFlight: () => transport.inFlight(),
    close: () => server.close(),
  };
}
