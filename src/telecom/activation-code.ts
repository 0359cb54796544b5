// GSMA SGP.22 §4.1 activation codes: `LPA:1$<SM-DP+ address>$<matching id>[$<SM-DP+ OID>[$<1 when
// a confirmation code is required>]]`. The one parser of them: the carrier's answer is checked with
// it before a line is recorded, and the e-mail reads the code with it. The code is always taken from
// the carrier (one built from an ICCID installs nothing) and installs the eSIM, so it is treated as a
// secret: errors never quote it.
import { AppError } from '../errors.js';

export interface ActivationCodeParts {
  smdpAddress: string;
  matchingId: string;
  /** The SM-DP+ OID, when the code carries one. */
  oid?: string;
  /** True when the code ends in `$1`: the phone asks for a confirmation code sent separately. */
  confirmationCodeRequired: boolean;
}

const LPA_PREFIX = 'LPA:1$';
// The SM-DP+ address is an FQDN: two or more host-name labels, no port, `$` or space.
const HOST_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const FQDN = new RegExp(`^${HOST_LABEL}(?:\\.${HOST_LABEL})+$`);
const MAX_FQDN_LENGTH = 253;
// SGP.22: upper case letters, digits and '-' only.
const MATCHING_ID = /^[0-9A-Z-]{1,255}$/;
// An object identifier has at least two arcs, which also keeps it apart from the `1` flag.
const OID = /^[0-9]+(?:\.[0-9]+)+$/;

function invalid(reason: string): AppError {
  return new AppError('internal', `not an LPA activation code: ${reason}`, { userFault: false });
}

/** The parts of a complete code (`LPA:1$…`); throws an `AppError` naming what is wrong, never the code. */
export function parseActivationCode(code: string): ActivationCodeParts {
  if (typeof code !== 'string') throw invalid('not a string');
  if (!code.startsWith(LPA_PREFIX)) throw invalid('not starting with LPA:1$');
  const [smdpAddress, matchingId, oid, confirmation, ...rest] = code.slice(LPA_PREFIX.length).split('$');
  if (smdpAddress === undefined || smdpAddress.length > MAX_FQDN_LENGTH || !FQDN.test(smdpAddress)) throw invalid('bad SM-DP+ address');
  if (matchingId === undefined || !MATCHING_ID.test(matchingId)) throw invalid('bad matching id');
  if (rest.length > 0) throw invalid('too many fields');
  // `$<OID>` alone, or `$<OID>$1` / `$$1` (no OID) when a confirmation code is required.
  if (oid !== undefined && oid !== '' && !OID.test(oid)) throw invalid('bad SM-DP+ OID');
  if (oid === '' && confirmation === undefined) throw invalid('empty trailing field');
  if (confirmation !== undefined && confirmation !== '1') throw invalid('bad confirmation code flag');
  return {
    smdpAddress,
    matchingId,
    ...(oid ? { oid } : {}),
    confirmationCodeRequired: confirmation === '1',
  };
}

/**
 * The carrier's code in its complete form, checked: the `LPA:1$` prefix (or its `LPA:` part) is
 * added only when missing. Throws like `parseActivationCode` when the result is not a valid code.
 */
export function normalizeActivationCode(raw: string): string {
  const trimmed = raw.trim();
  const code = /^LPA:/i.test(trimmed) ? `LPA:${trimmed.slice(4)}` : trimmed.startsWith('1$') ? `LPA:${trimmed}` : `${LPA_PREFIX}${trimmed}`;
  parseActivationCode(code);
  return code;
}

/** Last four characters only: enough to match a support request, useless to anyone else. */
export function lastFour(value: string | undefined): string | undefined {
  return value ? `…${value.slice(-4)}` : undefined;
}
