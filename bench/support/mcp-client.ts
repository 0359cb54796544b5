// A minimal JSON-RPC client for the MCP endpoint in JSON mode (Accept: application/json), on a
// keep-alive agent so that each call costs one request on an open connection, as for an assistant.
import { Agent, request } from 'node:http';

export interface ToolCallAnswer {
  status: number;
  isError: boolean;
  structured: Record<string, unknown> | undefined;
  text: string;
}

let nextId = 1;

export function createMcpClient(mcpUrl: string, maxSockets = 16) {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const url = new URL(mcpUrl);

  function post(body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      req.end(body);
    });
  }

  return {
    async callTool(name: string, args: Record<string, unknown>, token?: string): Promise<ToolCallAnswer> {
      const body = JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name, arguments: args } });
      const res = await post(body, token ? { authorization: `Bearer ${token}` } : {});
      const parsed = JSON.parse(res.body) as {
        result?: { isError?: boolean; structuredContent?: Record<string, unknown>; content?: Array<{ text?: string }> };
        error?: { message: string };
      };
      if (!parsed.result) throw new Error(`tools/call ${name} answered ${res.status}: ${parsed.error?.message ?? res.body.slice(0, 200)}`);
      return {
        status: res.status,
        isError: parsed.result.isError === true,
        structured: parsed.result.structuredContent,
        text: parsed.result.content?.map((c) => c.text ?? '').join('\n') ?? '',
      };
    },
    close() {
      agent.destroy();
    },
  };
}
