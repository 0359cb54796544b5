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

export interface ToolContext {
  catalog: Catalog;
  logger: Logger;
  /** The verified caller, when the request carried a valid bearer token. */
  caller?: Caller;
  activation: Pick<ActivationService, 'activateEsim'>;
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

type RequestHandler = (request: { method: string }, extra: { authInfo?: { extra?: Record<string, unknown> } }) => Promise<unknown>;

/**
 * The SDK parses each request's params inside its handler and answers a failure as -32603 with the
 * whole zod report, and any other error with its raw message. Wraps every registered handler so
 * that bad params are -32602 with one short line, and unexpected errors are logged and answered
 * without internals. Call once, after everything is registered.
 */
export function answerProtocolErrorsPlainly(server: McpServer, logger: Logger): void {
  // The handler table is internal to the SDK's Protocol (pinned version); the endpoint tests cover it.
  const handlers = (server.server as unknown as { _requestHandlers?: Map<string, RequestHandler> })._requestHandlers;
  if (!(handlers instanceof Map)) throw new Error('MCP SDK: the request handler table has moved; see answerProtocolErrorsPlainly');
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
        annotations: { title: tool.title, ...tool.annotations },
      },
      async (args: unknown, extra: { authInfo?: { extra?: Record<string, unknown> } }): Promise<CallToolResult> => {
        const request = requestContextOf(extra);
        const ctx: ToolContext = {
          catalog: services.catalog,
          activation: services.activation,
          caller: request.caller,
          // The request's logger is made on first use (src/http/request-log.ts).
          get logger() {
            return request.logger ?? services.logger;
          },
        };
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
