import { pino, type Logger } from 'pino';

export type { Logger };

/** u***@gmail.com — enough for support to recognise a user, not enough to contact them. */
export function maskEmail(email: string | null | undefined): string {
  if (!email) return '(none)';
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${email[0]}***@${email.slice(at + 1)}`;
}

const SECRET_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["stripe-signature"]',
  'headers.authorization',
  'authorization',
  'token',
  'accessToken',
  'refreshToken',
  'password',
  'secret',
  'apiKey',
  // Callers log e-mail addresses masked (maskEmail) under `email`; these catch raw ones elsewhere.
  'user.email',
  'caller.email',
  'recipient',
  '*.recipient',
  'lpa',
  '*.lpa',
  'activationCode',
  'iccid',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'dotm' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: SECRET_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
