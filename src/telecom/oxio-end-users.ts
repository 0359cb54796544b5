// OXIO end users: one per account, found by our key (never by e-mail: two accounts may share an
// address) and created only when no end user carries that key.
import type { Logger } from 'pino';
import { maskEmail } from '../logger.js';
import {
  createEndUserRequestSchema,
  createEndUserResponseSchema,
  endUserExternalId,
  endUserKeyParam,
  findEndUsersResponseSchema,
  oxioPaths,
} from './oxio-api.js';
import { requestBody, type OxioHttp } from './oxio-http.js';

export interface EndUserNames {
  firstName?: string;
  lastName?: string;
}

export class OxioEndUsers {
  constructor(
    private readonly http: OxioHttp,
    private readonly log: Logger,
    private readonly brandId?: string,
  ) {}

  async findOrCreate(customerKey: string, email: string, names?: EndUserNames): Promise<string> {
    const existing = await this.find(customerKey);
    if (existing) return existing;
    const body = requestBody(createEndUserRequestSchema, 'create end user', {
      sex: 'UNSPECIFIED',
      firstName: names?.firstName?.trim() || 'DOTM',
      lastName: names?.lastName?.trim() || 'Customer',
      email: email.trim(),
      externalId: endUserExternalId(customerKey),
      ...(this.brandId ? { brandId: this.brandId } : {}),
    });
    // Before a retry, look again: the failed attempt (or a concurrent one, answered 409) may have
    // created the user.
    return this.http.withRetries(
      'create end user',
      async () => {
        const { endUserId } = await this.http.once({
          operation: 'create end user',
          method: 'POST',
          path: oxioPaths.endUsers,
          body,
          answer: createEndUserResponseSchema,
        });
        this.log.info({ endUserId, email: maskEmail(email) }, 'OXIO end user created');
        return endUserId;
      },
      () => this.find(customerKey),
    );
  }

  async find(customerKey: string): Promise<string | undefined> {
    const externalId = endUserExternalId(customerKey);
    const found = await this.http.call({
      operation: 'find end user',
      method: 'GET',
      path: oxioPaths.endUsers,
      params: { [endUserKeyParam]: externalId },
      answer: findEndUsersResponseSchema,
    });
    // The server-side filter is not trusted: an end user counts only if it carries our key (a
    // filter OXIO ignored would otherwise hand us someone else's end user, and their lines).
    const own = found.endUsers.filter((endUser) => endUser.externalId === externalId);
    if (own.length < found.endUsers.length) {
      this.log.warn({ returned: found.endUsers.length, matching: own.length }, 'OXIO end-user search returned end users of other accounts; ignoring them');
    }
    return own[0]?.endUserId;
  }
}
