export interface Money {
  amount_cents: number;
  amount: string;
  currency: 'usd';
}

export function money(cents: number, currency: 'usd' = 'usd'): Money {
  if (!Number.isSafeInteger(cents)) throw new RangeError(`amount must be whole cents, got ${cents}`);
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return { amount_cents: cents, amount: `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`, currency };
}

/** Integer division rounding half away from zero: exact to the cent, the same every time. */
export function divideRounded(cents: number, divisor: number): number {
  const q = Math.floor(Math.abs(cents) / divisor);
  const r = Math.abs(cents) % divisor;
  const rounded = r * 2 >= divisor ? q + 1 : q;
  return cents < 0 ? -rounded : rounded;
}
