// tools/call, the endpoint's busiest method, answered with one parse of the request. In the SDK
// (pinned version) a call goes through three layers, each checking with zod: the Protocol parses
// the request against CallToolRequestSchema, the Server parses the parsed request again and, after
// the tool, parses its result against CallToolResultSchema (a deep copy, thrown away on success),
// and McpServer checks the arguments and the structured output against the tool's schemas. On a
// catalogue call the two extra parses and their copies were about a twentieth of the CPU time and
// a good share of the garbage (`npm run bench -- mcp --profile`).
//
// Here the common case — a known, enabled tool without tasks, called without task augmentation —
// is answered by the same steps in the same order with the SDK's own methods: the request parsed
// once, McpServer's validateToolInput, its executeToolHandler, its validateToolOutput, a thrown
// error made into its createToolError result, and the result checked; every other case (a request
// that does not parse, an unknown or disabled tool, tasks) goes to the SDK's own handler, which
// answers as it always does. test/mcp/tool-call.test.ts compares the answers with a stock server.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolRequestSchema, CallToolResultSchema, ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { requestHandlers, type RequestHandler } from './tool.js';

interface RegisteredTool {
  enabled: boolean;
  execution?: { taskSupport?: string };
  handler: object;
}

/** McpServer's own steps of a tool call (internal to the SDK, pinned version). */
interface McpServerInternals {
  _registeredTools: Record<string, RegisteredTool | undefined>;
  validateToolInput(tool: RegisteredTool, args: unknown, name: string): Promise<unknown>;
  executeToolHandler(tool: RegisteredTool, args: unknown, extra: unknown): Promise<unknown>;
  validateToolOutput(tool: RegisteredTool, result: unknown, name: string): Promise<void>;
  createToolError(message: string): CallToolResult;
}

function internalsOf(server: McpServer): McpServerInternals {
  const sdk = server as unknown as Partial<McpServerInternals>;
  for (const method of ['validateToolInput', 'executeToolHandler', 'validateToolOutput', 'createToolError'] as const) {
    if (typeof sdk[method] !== 'function') throw new Error(`MCP SDK: McpServer.${method} has moved; see src/mcp/tool-call.ts`);
  }
  if (typeof sdk._registeredTools !== 'object' || sdk._registeredTools === null) {
    throw new Error('MCP SDK: McpServer._registeredTools has moved; see src/mcp/tool-call.ts');
  }
  return sdk as McpServerInternals;
}

const RESULT_KEYS = new Set(['content', 'structuredContent', 'isError']);
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/**
 * Whether CallToolResultSchema would give back this very result, unchanged: text blocks of exactly
 * `type` and `text`, structured content a plain object (no own `__proto__` key), `isError` a boolean, nothing else — the
 * shape every tool of ours answers (src/mcp/tool.ts). Anything else is parsed by the schema.
 */
export function isPlainToolResult(result: unknown): result is CallToolResult {
  if (!isPlainObject(result)) return false;
  for (const key in result) if (!RESULT_KEYS.has(key)) return false;
  const { content, structuredContent, isError } = result;
  if (!Array.isArray(content)) return false;
  for (const block of content) {
    if (!isPlainObject(block) || block.type !== 'text' || typeof block.text !== 'string') return false;
    for (const key in block) if (key !== 'type' && key !== 'text') return false;
  }
  // The schema's record drops an own `__proto__` key (one JSON.parse can make): such content is parsed.
  return (
    (structuredContent === undefined || (isPlainObject(structuredContent) && !Object.hasOwn(structuredContent, '__proto__'))) &&
    (isError === undefined || typeof isError === 'boolean')
  );
}

/** The Server's check of a tool's result, with its error; a plain result is its own parse. */
function checkedResult(result: unknown): unknown {
  if (isPlainToolResult(result)) return result;
  const parsed = CallToolResultSchema.safeParse(result);
  if (!parsed.success) throw new McpError(ErrorCode.InvalidParams, `Invalid tools/call result: ${parsed.error.message}`);
  return parsed.data;
}

/** Installs the one-parse path in front of the SDK's tools/call handler. Call after registering tools. */
export function answerToolCallsDirectly(server: McpServer): void {
  const sdk = internalsOf(server);
  const handlers = requestHandlers(server);
  const stock = handlers.get('tools/call');
  if (!stock) throw new Error('MCP SDK: no tools/call handler after registering tools; see answerToolCallsDirectly');

  const direct: RequestHandler = async (request, extra) => {
    const parsed = CallToolRequestSchema.safeParse(request);
    if (!parsed.success || parsed.data.params.task) return stock(request, extra);
    const { name, arguments: args } = parsed.data.params;
    const tool = Object.hasOwn(sdk._registeredTools, name) ? sdk._registeredTools[name] : undefined;
    const taskSupport = tool?.execution?.taskSupport;
    if (!tool || !tool.enabled || (taskSupport !== undefined && taskSupport !== 'forbidden') || 'createTask' in tool.handler) {
      return stock(request, extra);
    }
    let result: unknown;
    try {
      const input = await sdk.validateToolInput(tool, args, name);
      result = await sdk.executeToolHandler(tool, input, extra);
      await sdk.validateToolOutput(tool, result, name);
    } catch (error) {
      if (error instanceof McpError && error.code === ErrorCode.UrlElicitationRequired) throw error;
      result = sdk.createToolError(error instanceof Error ? error.message : String(error));
    }
    return checkedResult(result);
  };
  handlers.set('tools/call', direct);
}
