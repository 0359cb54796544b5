// A stand-in for the Firebase Auth emulator: answers the account look-up firebase-admin makes
// when verifying an ID token in emulator mode. Every uid exists unless it was disabled here.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LocalFirebase {
  /** host:port, the value for FIREBASE_AUTH_EMULATOR_HOST. */
  readonly emulatorHost: string;
  disableUser(uid: string): void;
  enableUser(uid: string): void;
  close(): Promise<void>;
}

export async function startLocalFirebase(opts: { port?: number; host?: string } = {}): Promise<LocalFirebase> {
  const disabled = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'POST' || !/\/accounts:lookup$/.test(req.url?.split('?')[0] ?? '')) {
        return send(404, { error: { code: 404, message: 'NOT_FOUND', status: 'NOT_FOUND' } });
      }
      let localIds: string[] = [];
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { localId?: string[] };
        localIds = Array.isArray(body.localId) ? body.localId.filter((x) => typeof x === 'string') : [];
      } catch {
        return send(400, { error: { code: 400, message: 'INVALID_JSON', status: 'INVALID_ARGUMENT' } });
      }
      send(200, {
        kind: 'identitytoolkit#GetAccountInfoResponse',
        users: localIds.map((uid) => ({ localId: uid, ...(disabled.has(uid) ? { disabled: true } : {}) })),
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    emulatorHost: `127.0.0.1:${port}`,
    disableUser: (uid) => disabled.add(uid),
    enableUser: (uid) => disabled.delete(uid),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let shared: Promise<LocalFirebase> | undefined;

/**
 * firebase-admin reads FIREBASE_AUTH_EMULATOR_HOST from the process environment, so one stand-in
 * serves the whole process.
 */
export function sharedLocalFirebase(): Promise<LocalFirebase> {
  shared ??= startLocalFirebase().then((f) => {
    process.env.FIREBASE_AUTH_EMULATOR_HOST = f.emulatorHost;
    return f;
  });
  return shared;
}
