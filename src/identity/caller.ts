/** Who is calling, as proven by a verified bearer token: never taken from tool arguments. */
export interface Caller {
  uid: string;
  email: string | null;
  emailVerified: boolean;
  /** Which kind of token proved it. */
  via: 'firebase' | 'oauth';
  /** For OAuth access tokens: the registered client (the assistant) the user consented to. */
  clientId?: string;
}
