// One shape for every tool: name, title, description, zod input and output schemas, all four
// annotations explicitly, and a small handler that returns data or throws AppError. `registerTools`
// is the one place that turns thrown errors into tool errors and hides internals.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError, type CallToolResult, type ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { AppError, publicMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../http/metrics.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Caller } from '../identity/caller.js';
import type { ActivationService } from '../activation/activation-service.js';
import type { DeviceList } from '../devices/devices.js';
import { SCOPES_SUPPORTED } from '../oauth/provider.js';
import { cardMetaFor } from './ui/index.js';

export interface ToolContext {
  catalog: Catalog;
  logger: Logger;
  /** The verified caller, when the request carried a valid bearer token. */
  caller?: Caller;
  activation: Pick<ActivationService, 'activateEsim' | 'activationStatus'>;
  /** Which phones take an eSIM; the list shipped with the service when absent. */
  devices?: DeviceList;
}

/** What the endpoint passes along with each request (in the SDK's `authInfo.extra`). */
export interface RequestContext {
  caller?: Caller;
  logger?: Logger;
}

export function requestContextOf(extra: { authInfo?: { extra?: Record<string, unknown> } } | undefined): RequestContext {
  return (extra?.authInfo?.extra ?? {}) as RequestContext;
}

export interface ToolResult<O> {
  structured: O;
  text: string;
}

export interface ToolDefinition<I extends z.ZodRawShape, O extends z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  inputSchema: I;
  outputSchema: O;
  annotations: Required<Pick<ToolAnnotations, 'readOnlyHint' | 'destructiveHint' | 'idempotentHint' | 'openWorldHint'>>;
  /** Tools that act for a user; the endpoint asks for a bearer token before they run. */
  requiresAuth?: boolean;
  handler(args: z.infer<z.ZodObject<I>>, ctx: ToolContext): Promise<ToolResult<z.infer<z.ZodObject<O>>>>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTool = ToolDefinition<any, any>;

export const defineTool = <I extends z.ZodRawShape, O extends z.ZodRawShape>(t: ToolDefinition<I, O>) => t;

export function toolError(err: unknown, logger: Logger, tool: string): CallToolResult {
  if (err instanceof AppError && err.userFault) {
    return { isError: true, content: [{ type: 'text', text: err.message }] };
  }
  logger.error({ err, tool }, 'tool failed');
  return { isError: true, content: [{ type: 'text', text: publicMessage(err) }] };
}

/** What the SDK turns into a JSON-RPC error as is: its `code` and `message` (McpError would prefix the message). */
class JsonRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export type RequestHandler = (request: { method: string }, extra: { authInfo?: { extra?: Record<string, unknown> } }) => Promise<unknown>;

/** The SDK's table of request handlers by method. */
export function requestHandlers(server: McpServer): Map<string, RequestHandler> {
  // Internal to the SDK's Protocol (pinned version); the endpoint and contract tests cover it.
  const handlers = (server.server as unknown as { _requestHandlers?: Map<string, RequestHandler> })._requestHandlers;
  if (!(handlers instanceof Map)) throw new Error('MCP SDK: the request handler table has moved; see requestHandlers in src/mcp/tool.ts');
  return handlers;
}

/**
 * The SDK parses each request's params inside its handler and answers a failure as -32603 with the
 * whole zod report, and any other error with its raw message. Wraps every registered handler so
 * that bad params are -32602 with one short line, and unexpected errors are logged and answered
 * without internals. Call once, after everything is registered.
 */
export function answerProtocolErrorsPlainly(server: McpServer, logger: Logger): void {
  const handlers = requestHandlers(server);
  for (const [method, handler] of handlers) {
    handlers.set(method, async (request, extra) => {
      try {
        return await handler(request, extra);
      } catch (err) {
        if (err instanceof McpError) throw err;
        if (err instanceof z.core.$ZodError) {
          const issue = err.issues[0];
          const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
          throw new JsonRpcError(ErrorCode.InvalidParams, `Invalid params for ${method}: ${where}${issue?.message ?? 'invalid'}`.slice(0, 180));
        }
        // A resource URI that is not a URL (the SDK parses it with `new URL`).
        if ((err as { code?: unknown }).code === 'ERR_INVALID_URL') throw new JsonRpcError(ErrorCode.InvalidParams, `Invalid params for ${method}: not a valid URI`);
        (requestContextOf(extra).logger ?? logger).error({ err, method }, 'MCP request failed');
        throw new JsonRpcError(ErrorCode.InternalError, publicMessage(err));
      }
    });
  }
}

type Outcome = 'ok' | 'user_error' | 'error';

/** A tool's sign-in requirement as ChatGPT's Apps SDK reads it (`securitySchemes`). */
export type SecurityScheme = { type: 'noauth' } | { type: 'oauth2'; scopes: string[] };

/** Tools that act for a user need the access token's scopes; the others need no sign-in. */
export const securitySchemesOf = (tool: Pick<AnyTool, 'requiresAuth'>): SecurityScheme[] =>
  tool.requiresAuth ? [{ type: 'oauth2', scopes: [...SCOPES_SUPPORTED] }] : [{ type: 'noauth' }];

/** The descriptor's `_meta`: the in-chat card, if the tool shows one, and the security schemes. */
function toolMeta(tool: AnyTool): Record<string, unknown> {
  return { ...cardMetaFor(tool.name), securitySchemes: securitySchemesOf(tool) };
}

type JsonSchema = Record<string, unknown>;

/**
 * A tool's schema as published: zod's JSON Schema in the 2020-12 dialect, which MCP takes as the
 * default (since 2025-11-25), so without `$schema`. The SDK writes draft-07 with its `$schema` URL
 * on every schema; a client that validates with the SDK's own draft-07 validator reads these the
 * same way (nothing here differs between the two drafts, `$defs` included).
 */
function publishedSchema(shape: z.ZodRawShape, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(z.object(shape), { target: 'draft-2020-12', io }) as JsonSchema;
  return schema;
}

interface Published {
  inputSchema: JsonSchema;
  outputSchema: JsonSchema;
  securitySchemes: SecurityScheme[];
}

type ListedTool = { name: string; execution?: { taskSupport?: string } } & Record<string, unknown>;

/**
 * tools/list, which assistants carry in every conversation, kept small and complete: each of our
 * tools is listed with its schemas as published (made once), without the SDK's
 * `execution: { taskSupport: "forbidden" }` (the protocol's default when absent), and with
 * `securitySchemes` on the descriptor itself, where ChatGPT's Apps SDK reads it (the SDK's Tool
 * type has no such field, so registerTool cannot carry it; the `_meta` copy is for clients that
 * read it there).
 */
function publishDescriptors(server: McpServer, tools: readonly AnyTool[]): void {
  const published = new Map<string, Published>(
    tools.map((t) => [
      t.name,
      { inputSchema: publishedSchema(t.inputSchema, 'input'), outputSchema: publishedSchema(t.outputSchema, 'output'), securitySchemes: securitySchemesOf(t) },
    ]),
  );
  const handlers = requestHandlers(server);
  const list = handlers.get('tools/list');
  if (!list) throw new Error('MCP SDK: no tools/list handler after registering tools; see publishDescriptors');
  handlers.set('tools/list', async (request, extra) => {
    const result = (await list(request, extra)) as { tools: ListedTool[] };
    const listed = result.tools.map((tool) => {
      const ours = published.get(tool.name);
      if (!ours) return tool;
      const { execution, ...rest } = tool;
      return { ...rest, ...(execution && execution.taskSupport !== 'forbidden' ? { execution } : {}), ...ours };
    });
    return { ...result, tools: listed };
  });
}

/**
 * A tool's context for one call. The request's logger is made on first use
 * (src/http/request-log.ts); a class, not an object literal with a getter, which V8 builds on a
 * slow path on every call.
 */
class CallContext implements ToolContext {
  readonly catalog: Catalog;
  readonly activation: ToolContext['activation'];
  readonly devices: DeviceList | undefined;
  readonly caller: Caller | undefined;

  constructor(
    private readonly services: Omit<ToolContext, 'caller'>,
    private readonly request: RequestContext,
  ) {
    this.catalog = services.catalog;
    this.activation = services.activation;
    this.devices = services.devices;
    this.caller = request.caller;
  }

  get logger(): Logger {
    return this.request.logger ?? this.services.logger;
  }
}

/** Registers the tools once; each call reads its caller and request logger from the request. */
export function registerTools(server: McpServer, tools: readonly AnyTool[], services: Omit<ToolContext, 'caller'>, metrics?: Metrics): void {
  for (const tool of tools) {
    // Label objects made once per tool: prom-client reads them on every observation.
    const labels: Record<Outcome, { tool: string; outcome: Outcome }> = {
      ok: { tool: tool.name, outcome: 'ok' },
      user_error: { tool: tool.name, outcome: 'user_error' },
      error: { tool: tool.name, outcome: 'error' },
    };
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: tool.inputSchema,
        outputSchema: tool.outputSchema,
        // The title is the descriptor's own (MCP 2025-06-18); the annotations carry the four hints.
        annotations: tool.annotations,
        _meta: toolMeta(tool),
      },
      async (args: unknown, extra: { authInfo?: { extra?: Record<string, unknown> } }): Promise<CallToolResult> => {
        const ctx = new CallContext(services, requestContextOf(extra));
        const start = performance.now();
        let outcome: Outcome = 'ok';
        try {
          const result = await tool.handler(args as never, ctx);
          return { content: [{ type: 'text', text: result.text }], structuredContent: result.structured as Record<string, unknown> };
        } catch (err) {
          outcome = err instanceof AppError && err.userFault ? 'user_error' : 'error';
          return toolError(err, ctx.logger, tool.name);
        } finally {
          metrics?.toolDuration.observe(labels[outcome], (performance.now() - start) / 1000);
          metrics?.toolCalls.inc(labels[outcome]);
        }
      },
    );
  }
  publishDescriptors(server, tools);
}

interface RegisteredToolSchemas {
  inputSchema?: z.core.$ZodType;
  outputSchema?: z.core.$ZodType;
}
type Validate = (this: unknown, tool: RegisteredToolSchemas, value: unknown, toolName: string) => unknown;

type ObjectDef = { type?: string; shape?: z.ZodRawShape; catchall?: unknown };

/**
 * The SDK keeps each tool's schemas as zod-mini objects, which zod never compiles; the same shape
 * as a zod object is compiled into one checking function on first use, and checks by the same rules.
 */
const compiled = new WeakMap<object, z.ZodObject | null>();
function compiledObject(schema: z.core.$ZodType | undefined): z.ZodObject | null {
  if (!schema) return null;
  let object = compiled.get(schema);
  if (object === undefined) {
    const def = (schema as { _zod?: { def?: ObjectDef } })._zod?.def;
    object = def?.type === 'object' && def.shape && def.catchall === undefined ? z.object(def.shape) : null;
    compiled.set(schema, object);
  }
  return object;
}

/** A success, or undefined when the schema is not a plain zod 4 object, needs the async path, or fails. */
function passesSync(schema: z.core.$ZodType | undefined, value: unknown): { data: unknown } | undefined {
  const object = compiledObject(schema);
  if (!object) return undefined;
  try {
    const parsed = object.safeParse(value);
    return parsed.success ? { data: parsed.data } : undefined;
  } catch (err) {
    if (err instanceof z.core.$ZodAsyncError) return undefined;
    throw err;
  }
}

/**
 * The SDK checks each call's arguments and structured output against the tool's published schemas
 * with zod's `safeParseAsync` on zod-mini objects: zod compiles an object's checks into one
 * function only for a zod object parsed synchronously, and the output check alone was about 5 % of
 * a catalogue call. Here the same shapes are checked that way first, and only a pass is decided
 * here: a failure, a schema that is not a plain object or needs the async path, and the SDK's
 * element limit go to the SDK's own method, which answers as it always does
 * (test/mcp/validation.test.ts compares with a stock server). Call once, after registering tools.
 */
export function validateToolsSynchronously(server: McpServer): void {
  const sdk = server as unknown as { validateToolInput?: Validate; validateToolOutput?: Validate; _maxToolInputElements?: number };
  const input = sdk.validateToolInput;
  const output = sdk.validateToolOutput;
  if (typeof input !== 'function' || typeof output !== 'function') {
    throw new Error('MCP SDK: the tool validation methods have moved; see validateToolsSynchronously');
  }
  sdk.validateToolInput = function (tool, args, toolName) {
    if (sdk._maxToolInputElements === undefined) {
      const passed = passesSync(tool.inputSchema, args ?? {});
      if (passed) return passed.data;
    }
    return input.call(this, tool, args, toolName);
  };
  sdk.validateToolOutput = function (tool, result, toolName) {
    // What the SDK checks: a tool's result (not a task's), not an error, with structured content.
    const r = result as Partial<CallToolResult> | undefined;
    if (r && 'content' in r && !r.isError && r.structuredContent && passesSync(tool.outputSchema, r.structuredContent)) return undefined;
    return output.call(this, tool, result, toolName);
  };
}
