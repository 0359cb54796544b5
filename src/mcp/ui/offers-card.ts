// The offers card, for compare_memberships and calculate_pricing: the offers side by side, from the
// tool result's structuredContent (a comparison has `plans`, a price calculation `line_items`).
import type { CardSource } from './document.js';

const style = String.raw`
.offers { list-style: none; padding: 0; margin: 12px 0; display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px; }
.offer { position: relative; border: 1px solid var(--border); border-radius: var(--radius); padding: 14px; background: var(--bg); display: flex; flex-direction: column; gap: 2px; }
.offer.best { border-color: var(--c-accent); box-shadow: 0 0 0 1px var(--c-accent) inset; }
.offer h3 { margin: 0; font-size: 16px; }
.tag { align-self: flex-start; font-size: 11px; font-weight: 700; text-transform: uppercase; letter-spacing: .03em; color: var(--c-accent-fg); background: var(--c-accent); border-radius: 999px; padding: 1px 8px; margin-bottom: 4px; }
.price { font-size: 24px; font-weight: 700; margin: 6px 0 0; font-variant-numeric: tabular-nums; }
.per { font-size: 13px; font-weight: 500; color: var(--muted); margin-left: 4px; }
.features { list-style: none; padding: 0; margin: 8px 0 0; font-size: 13px; }
.features li { padding-left: 18px; position: relative; }
.features li::before { content: "\2713"; position: absolute; left: 0; color: var(--color-text-success, var(--c-ok)); font-weight: 700; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 6px 4px; border-bottom: 1px solid var(--border); }
th { font-weight: 500; }
td { text-align: right; }
tr.total th, tr.total td { font-weight: 700; border-bottom: none; }
`;

const script = String.raw`
const PER = { one_time: 'one-time', monthly: 'a month', yearly: 'a year' };

function money(m) {
  return isObject(m) && /^-?\d+\.\d{2}$/.test(text(m.amount)) ? '$' + m.amount : '\u2014';
}

function offer(o, best) {
  return h('li', { class: 'offer' + (best ? ' best' : '') },
    best ? h('span', { class: 'tag' }, 'Lowest price') : null,
    h('h3', null, text(o.name) || text(o.id)),
    h('p', { class: 'price' }, money(o.price), h('span', { class: 'per' }, PER[o.billing_period] || '')),
    o.extra,
    Array.isArray(o.features) && o.features.length
      ? h('ul', { class: 'features', 'aria-label': 'Included' }, o.features.map((f) => h('li', null, text(f))))
      : null);
}

function renderComparison(c) {
  const plans = c.plans.filter(isObject);
  announce('Comparing ' + plans.length + ' memberships');
  show(
    h('div', { class: 'head' }, h('h1', null, 'DOTM memberships'), h('span', { class: 'small muted' }, plans.length + (plans.length === 1 ? ' plan' : ' plans'))),
    h('h2', null, plans.length > 1 ? 'Memberships side by side' : 'Membership'),
    h('ul', { class: 'offers' }, plans.map((p) => offer({
      ...p,
      extra: isObject(p.monthly_equivalent) && p.billing_period !== 'monthly'
        ? h('p', { class: 'small muted' }, 'about ' + money(p.monthly_equivalent) + ' a month')
        : null,
    }, plans.length > 1 && p.id === c.cheapest_plan_id))),
    plans.length > 1 && isObject(c.price_difference) ? h('p', null, 'Price difference: ', h('strong', null, money(c.price_difference)), ' a year.') : null,
    text(c.recommendation) ? h('p', { class: 'muted' }, text(c.recommendation)) : null,
  );
}

function renderPricing(p) {
  const items = p.line_items.filter(isObject);
  const t = isObject(p.totals) ? p.totals : {};
  const row = (label, value, cls) => h('tr', { class: cls }, h('th', { scope: 'row' }, label), h('td', null, money(value)));
  announce('Pricing for ' + items.length + (items.length === 1 ? ' service' : ' services'));
  show(
    h('div', { class: 'head' }, h('h1', null, 'DOTM pricing'), h('span', { class: 'small muted' }, items.length + (items.length === 1 ? ' service' : ' services'))),
    h('h2', null, 'Your selection'),
    h('ul', { class: 'offers' }, items.map((i) => offer({
      ...i,
      extra: isObject(i.first_year) ? h('p', { class: 'small muted' }, 'First year: ' + money(i.first_year)) : null,
    }, false))),
    h('table', null,
      h('caption', { class: 'visually-hidden' }, 'Totals'),
      h('tbody', null,
        row('One-time', t.one_time),
        row('Monthly', t.monthly_recurring),
        row('Yearly', t.yearly_recurring),
        row('Recurring, per month', t.monthly_equivalent),
        row('First year in total', t.first_year, 'total'))),
    Number.isInteger(p.duplicates_ignored) && p.duplicates_ignored > 0
      ? h('p', { class: 'small muted' }, 'Services listed twice are counted once.')
      : null,
  );
}

startCard((content) => {
  if (Array.isArray(content.plans)) renderComparison(content);
  else if (Array.isArray(content.line_items)) renderPricing(content);
  else showProblem('Nothing to show here', 'The details are in the chat.');
});
`;

export const offersCardSource: CardSource = {
  title: 'DOTM offers',
  style,
  script,
};
