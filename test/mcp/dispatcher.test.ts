// The multiplexing transport with the real SDK server: internal ids are random, nobody outside can
// cancel a request even knowing its id, and every request is answered once — by the server, at the
// deadline, when its caller goes away, or at close.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { JSONRPCRequest, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { createMcpDispatcher, HangUp } from '../../src/mcp/dispatcher.js';

const extra: MessageExtraInfo = {};
const call = (id: number): JSONRPCRequest => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'wait', arguments: {} } });

/** A server with one tool that runs until released, and tells which internal id it ran under. */
function waitingServer() {
  const started: Array<{ requestId: string | number; signal: AbortSignal; release(): void }> = [];
  const server = new McpServer({ name: 't', version: '1' });
  server.registerTool('wait', { description: 'waits', inputSchema: {} }, (_args, ctx) => {
    return new Promise((resolve) => {
      started.push({ requestId: ctx.requestId, signal: ctx.signal, release: () => resolve({ content: [{ type: 'text', text: 'done' }] }) });
    });
  });
  return { server, started };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

// Both paths: tools/call answered directly (the default) and through the SDK's Protocol.
describe.each([{ directToolCalls: true }, { directToolCalls: false }])('createMcpDispatcher (%o)', ({ directToolCalls }) => {
  it('uses unguessable internal ids, and a cancellation naming one is not passed on', async () => {
    const { server, started } = waitingServer();
    const mcp = await createMcpDispatcher(server, { timeoutMs: 60_000, directToolCalls });
    const answer = mcp.request(call(7), extra);
    await until(() => started.length === 1);
    const internal = String(started[0]!.requestId);
    expect(internal).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    mcp.notify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: internal } }, extra);
    await new Promise((r) => setTimeout(r, 20));
    expect(started[0]!.signal.aborted).toBe(false);
    started[0]!.release();
    expect(await answer).toEqual({ jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'done' }] } });
    expect(mcp.inFlight()).toBe(0);
    await mcp.close();
  });

  it('answers at the deadline with -32001 and stops the handler', async () => {
    const { server, started } = waitingServer();
    const mcp = await createMcpDispatcher(server, { timeoutMs: 50, directToolCalls });
    const answer = await mcp.request(call(1), extra);
    expect(answer).toMatchObject({ jsonrpc: '2.0', id: 1, error: { code: -32001 } });
    expect(mcp.inFlight()).toBe(0);
    await until(() => started[0]!.signal.aborted);
    await mcp.close();
  });

  it('forgets a request whose caller went away', async () => {
    const { server, started } = waitingServer();
    const mcp = await createMcpDispatcher(server, { timeoutMs: 60_000, directToolCalls });
    const line = new HangUp();
    const answer = mcp.request(call(2), extra, line);
    await until(() => started.length === 1);
    line.hangUp();
    expect(await answer).toMatchObject({ id: 2, error: { code: -32000 } });
    expect(mcp.inFlight()).toBe(0);
    await until(() => started[0]!.signal.aborted);
    await mcp.close();
  });

  it('one hang-up ends every request on that line and no other; a line already gone is answered at once', async () => {
    const { server, started } = waitingServer();
    const mcp = await createMcpDispatcher(server, { timeoutMs: 60_000, directToolCalls });
    const line = new HangUp();
    const other = new HangUp();
    const mine = [mcp.request(call(10), extra, line), mcp.request(call(11), extra, line)];
    const theirs = mcp.request(call(12), extra, other);
    await until(() => started.length === 3);
    line.hangUp();
    expect(await Promise.all(mine)).toMatchObject([
      { id: 10, error: { code: -32000 } },
      { id: 11, error: { code: -32000 } },
    ]);
    expect(mcp.inFlight()).toBe(1);
    expect(await mcp.request(call(13), extra, line)).toMatchObject({ id: 13, error: { code: -32000 } });
    started[2]!.release();
    expect(await theirs).toMatchObject({ id: 12, result: { content: [{ type: 'text', text: 'done' }] } });
    expect(mcp.inFlight()).toBe(0);
    await mcp.close();
  });

  it('close answers every request in flight, and later ones at once', async () => {
    const { server, started } = waitingServer();
    const mcp = await createMcpDispatcher(server, { timeoutMs: 60_000, directToolCalls });
    const answers = [mcp.request(call(3), extra), mcp.request(call(4), extra)];
    await until(() => started.length === 2);
    await mcp.close();
    expect(started.map((s) => s.signal.aborted)).toEqual([true, true]);
    expect(await Promise.all(answers)).toMatchObject([
      { id: 3, error: { code: -32000 } },
      { id: 4, error: { code: -32000 } },
    ]);
    expect(await mcp.request(call(5), extra)).toMatchObject({ id: 5, error: { code: -32000 } });
    expect(mcp.inFlight()).toBe(0);
  });
});

describe('the direct tools/call path', () => {
  it('gives a handler the same extra as the SDK’s own path, and its sends work the same', async () => {
    const KEYS = ['signal', 'sessionId', '_meta', 'requestId', 'authInfo', 'requestInfo', 'taskId', 'taskStore', 'taskRequestedTtl', 'closeSSEStream', 'closeStandaloneSSEStream', 'sendNotification', 'sendRequest'] as const;
    const shapes: unknown[] = [];
    for (const directToolCalls of [true, false]) {
      const server = new McpServer({ name: 't', version: '1' });
      let sent: Promise<unknown> | undefined;
      server.registerTool('look', { description: 'looks', inputSchema: {} }, (_args, ctx) => {
        const c = ctx as unknown as Record<(typeof KEYS)[number], unknown>;
        shapes.push(Object.fromEntries(KEYS.map((k) => [k, typeof c[k] === 'function' ? 'function' : k === 'signal' ? c[k] instanceof AbortSignal : k === 'requestId' ? typeof c[k] : c[k]])));
        sent = ctx.sendNotification({ method: 'notifications/progress', params: { progressToken: 'p', progress: 1 } });
        return { content: [] };
      });
      const mcp = await createMcpDispatcher(server, { timeoutMs: 1000, directToolCalls });
      const info: MessageExtraInfo = { authInfo: { token: 't', clientId: 'c', scopes: [] }, requestInfo: { headers: { a: 'b' } } };
      const answer = await mcp.request({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'look', arguments: {}, _meta: { progressToken: 'p' } } }, info);
      expect(answer).toEqual({ jsonrpc: '2.0', id: 1, result: { content: [] } });
      await expect(sent).resolves.toBeUndefined();
      await mcp.close();
    }
    expect(shapes[0]).toEqual(shapes[1]);
    expect(shapes[0]).toMatchObject({ signal: true, _meta: { progressToken: 'p' }, authInfo: { clientId: 'c' }, requestInfo: { headers: { a: 'b' } } });
  });

  it('answers a handler that throws as the SDK does', async () => {
    const answers: unknown[] = [];
    for (const directToolCalls of [true, false]) {
      const server = new McpServer({ name: 't', version: '1' });
      server.registerTool('x', { description: 'x', inputSchema: {} }, () => ({ content: [] }));
      const mcp = await createMcpDispatcher(server, { timeoutMs: 1000, directToolCalls });
      // Replaces the table's handler with one that throws outside any tool (a protocol-level failure).
      const handlers = (server.server as unknown as { _requestHandlers: Map<string, unknown> })._requestHandlers;
      handlers.set('tools/call', () => {
        throw Object.assign(new Error('nope'), { code: -32602, data: { why: 'test' } });
      });
      answers.push(await mcp.request(call(9), extra));
      handlers.set('tools/call', () => Promise.reject(new Error('later')));
      answers.push(await mcp.request(call(10), extra));
      await mcp.close();
    }
    expect(answers.slice(0, 2)).toEqual(answers.slice(2));
    expect(answers[0]).toEqual({ jsonrpc: '2.0', id: 9, error: { code: -32602, message: 'nope', data: { why: 'test' } } });
    expect(answers[1]).toEqual({ jsonrpc: '2.0', id: 10, error: { code: -32603, message: 'later' } });
  });
});
