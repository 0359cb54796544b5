// GSMA SGP.22 activation codes: `LPA:1$<SM-DP+ address>$<matching id>[$<SM-DP+ OID>[$<1 when a
// confirmation code is required>]]`. The code is always taken from the carrier; building one from an
// ICCID gives a code that installs nothing.

const LPA_PREFIX = 'LPA:1$';
const ACTIVATION_CODE = /^LPA:1\$[^$\s]+\.[^$\s]+\$[^$\s]*(\$[^$\s]*(\$1)?)?$/;

/** The carrier's code with the `LPA:1$` prefix added only if it is missing; `undefined` if malformed. */
export function toLpaActivationCode(raw: string): string | undefined {
  const trimmed = raw.trim();
  const code = /^LPA:/i.test(trimmed)
    ? `LPA:${trimmed.slice(4)}`
    : trimmed.startsWith('1$')
      ? `LPA:${trimmed}`
      : `${LPA_PREFIX}${trimmed}`;
  return ACTIVATION_CODE.test(code) ? code : undefined;
}

export function isLpaActivationCode(code: string): boolean {
  return ACTIVATION_CODE.test(code);
}

/** Last four characters only: enough to match a support request, useless to anyone else. */
export function lastFour(value: string | undefined): string | undefined {
  return value ? `…${value.slice(-4)}` : undefined;
}
