// The two servers the `mcp` benchmark loads, one per process: `dotm` (the whole service, as
// `npm start` builds it, LOG_LEVEL=warn) or `echo` (a bare Express 5 JSON-RPC echo route).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { serveParent } from './support/child.js';
import { startBenchService } from './support/service.js';

export const ECHO_PATH = '/rpc';

async function startEcho(): Promise<{ url: string; stop(): Promise<void> }> {
  const app = express();
  app.post(ECHO_PATH, express.json(), (req, res) => {
    const body = req.body as { id?: unknown; params?: unknown };
    res.json({ jsonrpc: '2.0', id: body.id ?? null, result: { echo: body.params ?? null } });
  });
  const server = createServer(app);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${ECHO_PATH}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const which = process.argv[2];
if (which === 'echo') {
  const echo = await startEcho();
  serveParent(echo.url, echo.stop);
} else if (which === 'dotm') {
  const app = await startBenchService({ LOG_LEVEL: 'warn' });
  serveParent(app.mcpUrl, async () => {
    app.service.server.closeAllConnections();
    await app.close();
  });
} else {
  process.stderr.write('usage: mcp-target.ts dotm|echo\n');
  process.exit(2);
}
