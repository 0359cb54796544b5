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
  McpError,
  RELATED_TASK_META_KEY,
  type JSONRPCErrorResponse,
  type JSONRPCMessage,
  type JSONRPCNotification,
  type JSONRPCRequest,
  type JSONRPCResponse,
  type MessageExtraInfo,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../logger.js';
import { requestContextOf, requestHandlers, type RequestHandler } from './tool.js';

/** Client notifications the shared server may see: none of them refers to another request. */
const FORWARDED_NOTIFICATIONS = new Set(['notifications/initialized']);

export const SHUTTING_DOWN_MESSAGE = 'The service is restarting; please send the request again in a moment.';

const errorAnswer = (id: RequestId, code: number, message: string): JSONRPCErrorResponse => ({ jsonrpc: '2.0', id, error: { code, message } });

/**
 * One caller's line: when it hangs up, its requests still waiting are answered as cancelled and
 * their handlers stopped. It plays the part an AbortSignal would: in Node 20 an AbortController
 * with a listener added, removed and aborted costs tens of µs per HTTP request (EventTarget, and a
 * DOMException with its stack on every abort), more than the tool call it guards.
 */
export class HangUp {
  /** Internal ids of the requests still waiting, with the transport that holds each. */
  private readonly waiting = new Map<string, MultiplexTransport>();
  private happened = false;

  get hungUp(): boolean {
    return this.happened;
  }

  /** The caller went away (after all its answers were written, nothing is left to end). */
  hangUp(): void {
    if (this.happened) return;
    this.happened = true;
    for (const [key, transport] of this.waiting) transport.cancel(key);
    this.waiting.clear();
  }

  /** @internal */
  watch(key: string, transport: MultiplexTransport): void {
    this.waiting.set(key, transport);
  }

  /** @internal */
  unwatch(key: string): void {
    this.waiting.delete(key);
  }
}

interface Pending {
  /** The caller's own id, put back on the answer. */
  readonly id: RequestId;
  readonly method: string;
  readonly expires: number;
  readonly extra: MessageExtraInfo;
  readonly line: HangUp | undefined;
  readonly resolve: (answer: JSONRPCResponse) => void;
  /** Set when the request runs on the direct path: its handler's signal is aborted from here. */
  direct?: DirectExtra;
}

type OnRequest = (request: JSONRPCRequest, extra?: MessageExtraInfo) => void;

/** The Protocol's own ways to send, which a handler's extra offers. */
interface ProtocolSends {
  notification(notification: unknown, options?: { relatedRequestId?: RequestId }): Promise<void>;
  request(request: unknown, resultSchema: unknown, options?: Record<string, unknown>): Promise<unknown>;
}

/**
 * A handler's `extra` on the direct path, with the fields of the SDK's RequestHandlerExtra. The SDK
 * makes an AbortController and two closures for every request before its handler runs, and passes
 * the answer through four promises; on a catalogue call that was about a tenth of the endpoint's
 * CPU time (`npm run bench -- mcp`), for a signal no catalogue tool reads. Here the signal is made
 * when a handler first reads it, and aborted as the SDK would abort it: when the caller hangs up,
 * at the deadline, at close. Sending a notification or a request works as from the SDK's extra.
 */
class DirectExtra {
  readonly sessionId = undefined;
  readonly taskId = undefined;
  readonly taskStore = undefined;
  readonly taskRequestedTtl = undefined;
  readonly _meta: Record<string, unknown> | undefined;
  readonly requestId: RequestId;
  readonly authInfo: MessageExtraInfo['authInfo'];
  readonly requestInfo: MessageExtraInfo['requestInfo'];
  readonly closeSSEStream: MessageExtraInfo['closeSSEStream'];
  readonly closeStandaloneSSEStream: MessageExtraInfo['closeStandaloneSSEStream'];
  private controller?: AbortController;
  private abortedFor?: { reason: unknown };

  constructor(
    request: JSONRPCRequest,
    extra: MessageExtraInfo,
    private readonly protocol: ProtocolSends,
  ) {
    this._meta = (request.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
    this.requestId = request.id;
    this.authInfo = extra.authInfo;
    this.requestInfo = extra.requestInfo;
    this.closeSSEStream = extra.closeSSEStream;
    this.closeStandaloneSSEStream = extra.closeStandaloneSSEStream;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortedFor) this.controller.abort(this.abortedFor.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.abortedFor) return;
    this.abortedFor = { reason };
    this.controller?.abort(reason);
  }

  async sendNotification(notification: unknown): Promise<void> {
    if (this.abortedFor) return;
    await this.protocol.notification(notification, { relatedRequestId: this.requestId });
  }

  async sendRequest(request: unknown, resultSchema: unknown, options?: Record<string, unknown>): Promise<unknown> {
    if (this.abortedFor) throw new McpError(ErrorCode.ConnectionClosed, 'Request was cancelled');
    return this.protocol.request(request, resultSchema, { ...options, relatedRequestId: this.requestId });
  }
}

class MultiplexTransport implements Transport {
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  /**
   * The server's own request path. The SDK's `onmessage` first parses every message against its
   * zod schemas to tell a response from a request — for a request, two failed parses each building
   * a ZodError, about a tenth of the SDK's time on a catalogue call. The endpoint has classified
   * each message by the SDK's rules already (classifyMessage, test/mcp/envelope.test.ts), so
   * requests go straight to the path `onmessage` would have chosen.
   */
  onrequest?: OnRequest;
  /** Methods answered on the direct path (see DirectExtra), with the server that answers them. */
  direct?: { methods: ReadonlySet<string>; handlers: Map<string, RequestHandler>; protocol: ProtocolSends };
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
    for (const [key, p] of this.pending) {
      this.finish(key, p, errorAnswer(p.id, ErrorCode.ConnectionClosed, SHUTTING_DOWN_MESSAGE));
      // As the SDK aborts its handlers when the connection closes.
      p.direct?.abort(undefined);
    }
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

  request(message: JSONRPCRequest, extra: MessageExtraInfo, line?: HangUp): Promise<JSONRPCResponse> {
    if (this.closed) return Promise.resolve(errorAnswer(message.id, ErrorCode.ConnectionClosed, SHUTTING_DOWN_MESSAGE));
    if (line?.hungUp) return Promise.resolve(errorAnswer(message.id, ErrorCode.ConnectionClosed, 'The request was cancelled'));
    const key = randomUUID();
    return new Promise((resolve) => {
      const pending: Pending = { id: message.id, method: message.method, expires: Date.now() + this.timeoutMs, extra, line, resolve };
      this.pending.set(key, pending);
      line?.watch(key, this);
      try {
        const internal = { ...message, id: key };
        if (this.takesDirect(internal)) this.answerDirectly(internal, extra, pending);
        else if (this.onrequest) this.onrequest(internal, extra);
        else this.onmessage?.(internal, extra);
      } catch (err) {
        const p = this.pending.get(key);
        if (p) this.finish(key, p, errorAnswer(message.id, ErrorCode.InternalError, 'Internal error'));
        this.logger?.error({ err, method: message.method }, 'MCP request could not be dispatched');
      }
    });
  }

  /** A request the direct path may answer: one of its methods, and nothing a task needs. */
  private takesDirect(request: JSONRPCRequest): boolean {
    if (!this.direct?.methods.has(request.method)) return false;
    const params = request.params as { task?: unknown; _meta?: Record<string, unknown> } | undefined;
    return params?.task === undefined && params?._meta?.[RELATED_TASK_META_KEY] === undefined;
  }

  /**
   * What the SDK's Protocol._onrequest does for a request without tasks, minus what costs on every
   * call and is used by none: the handler from the same table, an extra of the same fields, the
   * same answer and error shapes; a handler that throws is answered as the Protocol answers it.
   */
  private answerDirectly(request: JSONRPCRequest, extra: MessageExtraInfo, pending: Pending): void {
    const { handlers, protocol } = this.direct!;
    const handler = handlers.get(request.method);
    if (!handler) {
      this.onrequest ? this.onrequest(request, extra) : this.onmessage?.(request, extra);
      return;
    }
    const handlerExtra = new DirectExtra(request, extra, protocol);
    pending.direct = handlerExtra;
    let answer: Promise<unknown>;
    try {
      answer = Promise.resolve(handler(request, handlerExtra as never));
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (result) => this.send({ jsonrpc: '2.0', id: request.id, result } as JSONRPCResponse),
      (error: { code?: unknown; message?: string; data?: unknown }) =>
        this.send({
          jsonrpc: '2.0',
          id: request.id,
          error: {
            code: Number.isSafeInteger(error?.code) ? (error.code as number) : ErrorCode.InternalError,
            message: error?.message ?? 'Internal error',
            ...(error?.data !== undefined && { data: error.data }),
          },
        }),
    );
  }

  /** The caller hung up: nobody will read the answer, so the request ends here. */
  cancel(key: string): void {
    const p = this.pending.get(key);
    if (p) this.finish(key, p, errorAnswer(p.id, ErrorCode.ConnectionClosed, 'The request was cancelled'), 'the caller went away');
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
    p.line?.unwatch(key);
    p.resolve(answer);
    if (abortReason && p.direct) p.direct.abort(abortReason);
    else if (abortReason && !this.closed) {
      // Only this transport can name an internal id: the handler's signal is aborted and the SDK
      // drops its late answer.
      this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: key, reason: abortReason } });
    }
  }
}

export interface McpDispatcher {
  /** Answers exactly once: the server's answer, or an error at the deadline, when `line` hangs up or at close. */
  request(message: JSONRPCRequest, extra: MessageExtraInfo, line?: HangUp): Promise<JSONRPCResponse>;
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
  /** tools/call on the direct path (DirectExtra); off, every request takes the SDK's own path. */
  directToolCalls?: boolean;
}

export async function createMcpDispatcher(server: McpServer, options: McpDispatcherOptions): Promise<McpDispatcher> {
  const transport = new MultiplexTransport(options.timeoutMs, options.logger);
  await server.connect(transport);
  // The Protocol's request path is internal to the SDK (pinned version); the endpoint tests cover it.
  const protocol = server.server as unknown as { _onrequest?: OnRequest };
  if (typeof protocol._onrequest !== 'function') throw new Error('MCP SDK: the request path has moved; see MultiplexTransport.onrequest');
  transport.onrequest = protocol._onrequest.bind(protocol);
  // A task store needs the SDK's own path for every request; this service has none.
  if (options.directToolCalls !== false && (protocol as { _taskStore?: unknown })._taskStore === undefined) {
    transport.direct = { methods: new Set(['tools/call']), handlers: requestHandlers(server), protocol: server.server as unknown as ProtocolSends };
  }
  return {
    request: (message, extra, line) => transport.request(message, extra, line),
    notify: (message, extra) => transport.notify(message, extra),
    inFlight: () => transport.inFlight(),
    close: () => server.close(),
  };
}
