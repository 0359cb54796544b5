// An assistant's website for the Client ID Metadata Document tests: a real https server on 127.0.0.1
// with a self-signed certificate made by openssl for this run (names: localhost, docs.test and
// 127.0.0.1). Each path answers as told; every request is counted with its Host header and the TLS
// server name the client sent.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

export interface Answer {
  status?: number;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
  /** Sent in pieces without a content-length (chunked). */
  chunks?: string[];
  /** Never answers. */
  hang?: boolean;
}

export interface Visit {
  path: string;
  host: string | undefined;
  servername: string | false | null | undefined;
}

export interface DocumentServer {
  /** https://localhost:<port> */
  origin: string;
  port: number;
  /** The self-signed certificate (PEM), its own trust anchor, and the file it is in. */
  ca: string;
  caFile: string;
  url(path: string): string;
  serve(path: string, answer: Answer): void;
  /** A client metadata document at `path` naming itself, with `fields` on top. */
  serveDocument(path: string, fields?: Record<string, unknown>, headers?: Record<string, string>): string;
  hits(path: string): number;
  visits: Visit[];
  close(): Promise<void>;
}

export async function startDocumentServer(): Promise<DocumentServer> {
  const dir = mkdtempSync(join(tmpdir(), 'dotm-cimd-'));
  const keyFile = join(dir, 'key.pem');
  const caFile = join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', caFile, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,DNS:docs.test,IP:127.0.0.1',
  ], { stdio: 'pipe' });
  const ca = readFileSync(caFile, 'utf8');
  const answers = new Map<string, Answer>();
  const visits: Visit[] = [];

  const server: Server = createServer({ key: readFileSync(keyFile), cert: ca }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    visits.push({ path, host: req.headers.host, servername: (req.socket as TLSSocket).servername });
    const answer = answers.get(path) ?? { status: 404, body: { error: 'not found' } };
    if (answer.hang) return;
    res.statusCode = answer.status ?? 200;
    for (const [k, v] of Object.entries(answer.headers ?? {})) res.setHeader(k, v);
    if (answer.chunks) {
      if (!res.hasHeader('content-type')) res.setHeader('content-type', 'application/json');
      for (const chunk of answer.chunks) res.write(chunk);
      return res.end();
    }
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {});
    if (!res.hasHeader('content-type')) res.setHeader('content-type', 'application/json');
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `https://localhost:${port}`;
  const url = (path: string) => `${origin}${path}`;

  return {
    origin,
    port,
    ca,
    caFile,
    url,
    visits,
    serve: (path, answer) => void answers.set(path, answer),
    serveDocument(path, fields = {}, headers = {}) {
      const clientId = url(path);
      answers.set(path, {
        headers,
        body: { client_id: clientId, client_name: 'Metadata Assistant', redirect_uris: ['https://assistant.example/callback'], token_endpoint_auth_method: 'none', ...fields },
      });
      return clientId;
    },
    hits: (path) => visits.filter((v) => v.path === path).length,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
