// Stripe's error envelope: `{ error: { type, message, code?, param? } }`. The SDK picks its error
// class from the HTTP status (400/404 → StripeInvalidRequestError, 401 → StripeAuthenticationError,
// 5xx → StripeAPIError) and from `type: 'idempotency_error'`.
export type StripeErrorType = 'invalid_request_error' | 'api_error' | 'idempotency_error' | 'card_error';

export interface StripeErrorBody {
  error: { type: StripeErrorType; message: string; code?: string; param?: string; doc_url?: string };
}

export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: StripeErrorType,
    message: string,
    readonly details: { code?: string; param?: string } = {},
  ) {
    super(message);
    this.name = 'StripeApiError';
  }

  toBody(): StripeErrorBody {
    const { code, param } = this.details;
    return {
      error: {
        type: this.type,
        message: this.message,
        ...(code ? { code, doc_url: `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}` } : {}),
        ...(param ? { param } : {}),
      },
    };
  }
}

export const invalidRequest = (message: string, details: { code?: string; param?: string } = {}) =>
  new StripeApiError(400, 'invalid_request_error', message, details);

/** An id in the URL that names nothing: 404, as Stripe answers. */
export const noSuchResource = (kind: string, id: string) =>
  new StripeApiError(404, 'invalid_request_error', `No such ${kind}: '${id}'`, { code: 'resource_missing', param: 'id' });

/** An id in a parameter that names nothing: 400 with the parameter named. */
export const noSuchReference = (kind: string, id: string, param: string) =>
  invalidRequest(`No such ${kind}: '${id}'`, { code: 'resource_missing', param });
