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
import type { ActivationFacade } from './activation-facade.js';

export interface ToolContext {
  catalog: Catalog;
  logger: Logger;
  /** The verified caller, when the request carried a valid bearer token. */
  caller?: Caller;
  activation?: ActivationFacade;
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

/** Registers the tools once; each call reads its caller and request logger from the request. */
export function registerTools(server: McpServer, tools: readonly AnyTool[], services: Omit<ToolContext, 'caller'>, metrics?: Metrics): void {
  for (const tool of tools) {
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
        const ctx: ToolContext = { ...services, caller: request.caller, logger: request.logger ?? services.logger };
        const stop = metrics?.toolDuration.startTimer({ tool: tool.name });
        let outcome = 'ok';
        try {
          const result = await tool.handler(args as never, ctx);
          return { content: [{ type: 'text', text: result.text }], structuredContent: result.structured as Record<string, unknown> };
        } catch (err) {
          outcome = err instanceof AppError && err.userFault ? 'user_error' : 'error';
          return toolError(err, ctx.logger, tool.name);
        } finally {
          stop?.({ outcome });
          metrics?.toolCalls.inc({ tool: tool.name, outcome });
        }
      },
    );
  }
}
