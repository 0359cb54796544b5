// GSMA SGP.22 activation codes: `LPA:1$<SM-DP+ address>$<matching id>[$<SM-DP+ OID>[$1]]`.
// The code installs the eSIM, so it is treated as a secret: errors never quote it.
import { AppError } from '../errors.js';

export interface ActivationCodeParts {
  smdpAddress: string;
  matchingId: string;
  /** The SM-DP+ OID, when the code carries one. */
  oid?: string;
  /** True when the code ends in `$1`: the phone asks for a confirmation code sent separately. */
  confirmationCodeRequired: boolean;
}

// A host name (or IPv4 address) with an optional port; no `$` or spaces, which would break the code.
const HOST_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const SMDP_ADDRESS = new RegExp(`^${HOST_LABEL}(?:\\.${HOST_LABEL})*(?::[0-9]{1,5})?$`);
// SGP.22 asks for 0-9, A-Z and '-'; real SM-DP+ servers also hand out lower case, '.' and '_'.
const MATCHING_ID = /^[A-Za-z0-9._-]{1,255}$/;
const OID = /^[0-9]+(?:\.[0-9]+)*$/;

function invalid(reason: string): AppError {
  return new AppError('internal', `not an LPA activation code: ${reason}`, { userFault: false });
}

export function parseActivationCode(code: string): ActivationCodeParts {
  if (typeof code !== 'string') throw invalid('not a string');
  if (!code.startsWith('LPA:')) throw invalid('missing the LPA: prefix');
  const fields = code.slice('LPA:'.length).split('$');
  const [format, smdpAddress, matchingId, oid, confirmation, ...rest] = fields;
  if (format !== '1') throw invalid('unsupported format (expected 1)');
  if (smdpAddress === undefined || smdpAddress.length > 255 || !SMDP_ADDRESS.test(smdpAddress)) throw invalid('bad SM-DP+ address');
  if (matchingId === undefined || !MATCHING_ID.test(matchingId)) throw invalid('bad matching id');
  if (rest.length > 0) throw invalid('too many fields');
  // `$<OID>` alone, or `$<OID>$1` / `$$1` (empty OID) when a confirmation code is required.
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

export interface InstallLinks {
  /** iOS 17.4+: opens the eSIM installation directly. */
  ios: string;
  android: string;
}

export function installLinks(code: string): InstallLinks {
  const carddata = encodeURIComponent(code);
  return {
    ios: `https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=${carddata}`,
    android: `https://esimsetup.android.com/esim_qrcode_provisioning?carddata=${carddata}`,
  };
}
