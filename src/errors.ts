// One error family. `userFault` errors carry a message meant for the caller (an assistant, a
// browser, an operator); anything else is logged and answered without internals.
export type ErrorCode =
  | 'invalid_argument'
  | 'not_found'
  | 'unauthenticated'
  | 'forbidden'
  | 'conflict'
  | 'rate_limited'
  | 'email_not_verified'
  | 'upstream_unavailable'
  | 'internal';

export class AppError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly options: { userFault?: boolean; httpStatus?: number; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
  }
  get userFault(): boolean {
    return this.options.userFault ?? this.code !== 'internal';
  }
  get httpStatus(): number {
    if (this.options.httpStatus) return this.options.httpStatus;
    switch (this.code) {
      case 'invalid_argument':
      case 'email_not_verified':
        return 400;
      case 'unauthenticated':
        return 401;
      case 'forbidden':
        return 403;
      case 'not_found':
        return 404;
      case 'conflict':
        return 409;
      case 'rate_limited':
        return 429;
      case 'upstream_unavailable':
        return 503;
      default:
        return 500;
    }
  }
}

export const invalidArgument = (message: string, details?: Record<string, unknown>) =>
  new AppError('invalid_argument', message, { details });
export const notFound = (message: string, details?: Record<string, unknown>) => new AppError('not_found', message, { details });
export const upstreamUnavailable = (message: string, cause?: unknown) =>
  new AppError('upstream_unavailable', message, { cause });

/** The message a caller may see: ours for user-fault errors, a generic one otherwise. */
export function publicMessage(err: unknown): string {
  if (err instanceof AppError && err.userFault) return err.message;
  return 'Something went wrong on our side. Please try again in a moment.';
}

export interface RequestBodyError {
  status: number;
  /** body-parser's type (`encoding.unsupported`, `entity.parse.failed`, …), or `body.unreadable`. */
  type: string;
  message: string;
}

const BODY_MESSAGES: Record<string, string> = {
  'entity.too.large': 'The request body is too large',
  'entity.parse.failed': 'The body is not valid JSON',
  'encoding.unsupported': 'Unsupported Content-Encoding: send the body uncompressed, or as gzip, deflate or br',
  'charset.unsupported': 'Unsupported charset: send UTF-8',
};

/**
 * A request body that could not be read (body-parser's errors, and zlib's under them: a corrupt
 * gzip stream carries a 400 but no `type`), as the caller's fault to answer with a 4xx; undefined
 * for any other error.
 */
export function requestBodyError(err: unknown): RequestBodyError | undefined {
  if (!(err instanceof Error) || err instanceof AppError) return undefined;
  const { status, type, expose } = err as { status?: unknown; type?: unknown; expose?: unknown };
  if (typeof status !== 'number' || status < 400 || status >= 500 || expose !== true) return undefined;
  const kind = typeof type === 'string' ? type : 'body.unreadable';
  return { status, type: kind, message: BODY_MESSAGES[kind] ?? 'The request body could not be read (a corrupt or truncated compressed body?)' };
}
