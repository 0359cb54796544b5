// One McpServer per process, shared by every HTTP request. The endpoint is stateless, so nothing
// ties a request to a session; building a server (and the SDK's web Request/Response transport)
// per POST cost about three times the CPU of this design (`npm run bench -- mcp`). This transport
// multiplexes: each incoming request gets a process-unique JSON-RPC id on the way in and its own id
// back on the way out, and carries its caller in `authInfo`, so concurrent requests never mix.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  isJSONRPCErrorResponse,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type JSONRPCNotification,
  type JSONRPCRequest,
  type JSONRPCResponse,
  type MessageExtraInfo,
} from '@modelcontextprotocol/sdk/types.js';

class MultiplexTransport implements Transport {
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private readonly pending = new Map<string, (message: JSONRPCResponse) => void>();
  private nextId = 0;

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.onclose?.();
  }

  async send(message: JSONRPCMessage): Promise<void> {
    // Only answers to requests go back; a stateless endpoint has no stream for server notifications.
    if (!isJSONRPCResultResponse(message) && !isJSONRPCErrorResponse(message)) return;
    const key = String(message.id);
    const resolve = this.pending.get(key);
    if (!resolve) return;
    this.pending.delete(key);
    resolve(message);
  }

  request(message: JSONRPCRequest, extra: MessageExtraInfo): Promise<JSONRPCResponse> {
    const internalId = `r${++this.nextId}`;
    return new Promise((resolve) => {
      this.pending.set(internalId, (answer) => resolve({ ...answer, id: message.id } as JSONRPCResponse));
      this.onmessage?.({ ...message, id: internalId }, extra);
    });
  }

  notify(message: JSONRPCNotification, extra: MessageExtraInfo): void {
    this.onmessage?.(message, extra);
  }
}

export interface McpDispatcher {
  request(message: JSONRPCRequest, extra: MessageExtraInfo): Promise<JSONRPCResponse>;
  notify(message: JSONRPCNotification, extra: MessageExtraInfo): void;
  close(): Promise<void>;
}

export async function createMcpDispatcher(server: McpServer): Promise<McpDispatcher> {
  const transport = new MultiplexTransport();
  await server.connect(transport);
  return {
    request: (message, extra) => transport.request(message, extra),
    notify: (message, extra) => transport.notify(message, extra),
    close: () => server.close(),
  };
}
