// Fetching a client metadata document from an address anyone can choose, without letting it be
// turned against us (server-side request forgery, draft-ietf-oauth-client-id-metadata-document §8.6):
// https only; the host is resolved here and every address it resolves to is checked, and the
// connection goes to exactly those addresses (the hostname stays the TLS server name and the Host
// header), so a second DNS answer cannot switch it to an internal one; no redirects; one deadline for
// the whole exchange; a size cap; JSON only. Special-use addresses (loopback, private, link-local,
// unique-local, multicast, CGNAT, documentation, reserved, IPv4 embedded in IPv6) are refused;
// outside production loopback is allowed, so a document can be served locally.
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import ipaddr from 'ipaddr.js';

/** Why a document could not be fetched, in words fit for an OAuth error_description. */
export class MetadataFetchError extends Error {}

/** Name resolution at the network edge: every address of a host. */
export type ResolveAddresses = (hostname: string) => Promise<LookupAddress[]>;

export interface FetchPolicy {
  /** Outside production: documents on a loopback address are fetched. */
  allowLoopback: boolean;
  /** For the whole exchange: resolution, connection, TLS, headers and body. */
  timeoutMs: number;
  maxBytes: number;
  /** PEM trust anchors added to the bundled ones; unset, the default trust store (with NODE_EXTRA_CA_CERTS) alone. */
  extraCa?: string;
  resolve?: ResolveAddresses;
}

export interface FetchedDocument {
  body: unknown;
  headers: IncomingHttpHeaders;
}

// Special-purpose blocks (IANA registries, RFC 6890) that ipaddr.js 1.x reports as plain unicast.
const SPECIAL_IPV4 = ['198.18.0.0/15'].map((c) => ipaddr.IPv4.parseCIDR(c));
const SPECIAL_IPV6 = ['100::/64', '2001::/23', '3fff::/20', '5f00::/16', '64:ff9b:1::/48', 'fec0::/10'].map((c) => ipaddr.IPv6.parseCIDR(c));
const GLOBAL_UNICAST_IPV6 = ipaddr.IPv6.parseCIDR('2000::/3');

/**
 * Why an address must not be fetched from (its range: "private", "loopback", …), or undefined when
 * it is a public unicast address. IPv4-mapped IPv6 addresses are judged as the IPv4 address.
 */
export function addressRefusal(ip: string, opts: { allowLoopback: boolean }): string | undefined {
  if (!ipaddr.isValid(ip)) return 'invalid';
  const address = ipaddr.process(ip);
  const range = address.range();
  if (range === 'loopback') return opts.allowLoopback ? undefined : range;
  if (range !== 'unicast') return range;
  if (address instanceof ipaddr.IPv4) return SPECIAL_IPV4.some((c) => address.match(c)) ? 'reserved' : undefined;
  const v6 = address as ipaddr.IPv6;
  if (!v6.match(GLOBAL_UNICAST_IPV6)) return 'reserved';
  return SPECIAL_IPV6.some((c) => v6.match(c)) ? 'reserved' : undefined;
}

const systemResolve: ResolveAddresses = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

/** The addresses to connect to: all of them allowed, or the host is refused. */
function checkedAddresses(hostname: string, found: LookupAddress[], family: number | undefined, policy: FetchPolicy): LookupAddress[] {
  for (const { address } of found) {
    const refusal = addressRefusal(address, policy);
    if (refusal) throw new MetadataFetchError(`its host ${hostname} resolves to a ${refusal} address, which this server does not fetch from`);
  }
  const usable = family === 4 || family === 6 ? found.filter((a) => a.family === family) : found;
  if (usable.length === 0) throw new MetadataFetchError(`its host ${hostname} has no address`);
  return usable;
}

/** A `lookup` for the socket: resolves, checks every address, hands over only checked ones. */
function checkedLookup(policy: FetchPolicy): LookupFunction {
  const resolveAll = policy.resolve ?? systemResolve;
  type Callback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
  return (hostname: string, options: LookupOptions, callback: Callback) => {
    resolveAll(hostname).then(
      (found) => {
        let usable: LookupAddress[];
        try {
          usable = checkedAddresses(hostname, found, options.family as number | undefined, policy);
        } catch (err) {
          return callback(err as MetadataFetchError, '');
        }
        if (options.all) callback(null, usable);
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      () => callback(new MetadataFetchError(`its host ${hostname} could not be resolved`), ''),
    );
  };
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

function asFetchError(err: Error & { code?: string }): MetadataFetchError {
  if (err instanceof MetadataFetchError) return err;
  if (err.code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(err.code)) return new MetadataFetchError(`its TLS certificate is not trusted (${err.code})`);
  return new MetadataFetchError(`it could not be fetched (${err.code ?? err.message})`);
}

/** GETs `url` under `policy`; the parsed JSON and the response headers, or a MetadataFetchError. */
export function fetchClientMetadata(url: URL, policy: FetchPolicy): Promise<FetchedDocument> {
  if (url.protocol !== 'https:') return Promise.reject(new MetadataFetchError('it is not an https URL'));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  // A literal address is connected to without a lookup: judge it here.
  const literalRefusal = isIP(host) ? addressRefusal(host, policy) : undefined;
  if (literalRefusal) return Promise.reject(new MetadataFetchError(`it is on a ${literalRefusal} address, which this server does not fetch from`));

  return new Promise((resolve, reject) => {
    let settled = false;
    const request = https.request({
      host,
      port: url.port || 443,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      agent: false,
      lookup: checkedLookup(policy),
      ca: policy.extraCa ? [...rootCertificates, policy.extraCa] : undefined,
      maxHeaderSize: 16_384,
      headers: { accept: 'application/json', 'accept-encoding': 'identity', 'user-agent': 'DOTM-authorization-server', connection: 'close' },
    });
    const finish = (outcome: { error: Error } | { document: FetchedDocument }) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      request.destroy();
      if ('error' in outcome) reject(asFetchError(outcome.error));
      else resolve(outcome.document);
    };
    const fail = (message: string) => finish({ error: new MetadataFetchError(message) });
    const deadline = setTimeout(() => fail(`it did not answer within ${policy.timeoutMs} ms`), policy.timeoutMs);

    request.on('error', (error) => finish({ error }));
    request.on('response', (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400) return fail(`it answered with a redirect (HTTP ${status}); redirects are not followed`);
      if (status !== 200) return fail(`it answered HTTP ${status}, not 200`);
      const type = response.headers['content-type'] ?? '';
      if (!JSON_TYPE.test(type)) return fail(`it is served as ${type.slice(0, 80) || 'no content type'}, not as JSON`);
      const encoding = response.headers['content-encoding'];
      if (encoding && encoding !== 'identity') return fail(`it is served with content-encoding ${encoding.slice(0, 40)}`);
      if (Number(response.headers['content-length']) > policy.maxBytes) return fail(`it is larger than ${policy.maxBytes} bytes`);
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > policy.maxBytes) return fail(`it is larger than ${policy.maxBytes} bytes`);
        chunks.push(chunk);
      });
      response.on('error', (error) => finish({ error }));
      response.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return fail('it is not valid JSON');
        }
        finish({ document: { body, headers: response.headers } });
      });
    });
    request.end();
  });
}
