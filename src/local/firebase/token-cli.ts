// `npm run token -- someone@example.com [--unverified] [--expired] [--project ID]`
// Prints an Auth-emulator ID token for the local stand-in, and nothing else on standard output.
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config.js';
import { mintEmulatorToken } from './tokens.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    unverified: { type: 'boolean', default: false },
    expired: { type: 'boolean', default: false },
    project: { type: 'string' },
    uid: { type: 'string' },
    ttl: { type: 'string' },
  },
});
const email = positionals[0];
if (!email || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
  process.stderr.write('usage: npm run token -- someone@example.com [--unverified] [--expired] [--project ID] [--ttl SECONDS]\n');
  process.exit(2);
}
const config = loadConfig();
const token = mintEmulatorToken({
  projectId: values.project ?? config.firebaseProjectId,
  email,
  uid: values.uid,
  emailVerified: !values.unverified,
  ttlSeconds: values.expired ? -60 : values.ttl ? Number(values.ttl) : 3600,
});
process.stdout.write(`${token}\n`);
