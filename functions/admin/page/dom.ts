/**
 * The page's building blocks. Every value is set as text: `el()` appends strings as text nodes,
 * and nothing here sets markup.
 */
import type { Progress } from './api.js';

export type Child = Node | string | number | null | undefined | false;

/** An element with text children only: strings become text nodes, never markup. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const enc = encodeURIComponent;

export function ago(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} d ago`;
}

export const when = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString() : '—');
export const score = (n: number | null | undefined): string => (typeof n === 'number' ? n.toFixed(3) : '—');

export function table(caption: string, head: string[], rows: Node[], numeric: string[] = []): HTMLElement {
  return el(
    'div',
    { class: 'table-wrap' },
    el(
      'table',
      {},
      el('caption', {}, caption),
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...head.map((h) => el('th', { scope: 'col', ...(numeric.includes(h) ? { class: 'num' } : {}) }, h)),
        ),
      ),
      el(
        'tbody',
        {},
        ...(rows.length ? rows : [el('tr', {}, el('td', { colspan: String(head.length), class: 'muted' }, 'none'))]),
      ),
    ),
  );
}

export function facts(pairs: Array<[string, Child]>): HTMLElement {
  return el('dl', { class: 'facts' }, ...pairs.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

/** Completed, failed and pending of total, drawn: widths set through the CSSOM, which the policy allows. */
export function progressBar(p: Progress): HTMLElement {
  const total = p.total ?? p.completed + p.failed;
  const done = p.completed + p.failed;
  const label = `${p.completed} completed, ${p.failed} failed, ${p.pending ?? '?'} pending of ${p.total ?? '?'}`;
  const bar = el('div', {
    class: 'bar',
    role: 'progressbar',
    'aria-label': label,
    'aria-valuemin': '0',
    'aria-valuemax': String(total),
    'aria-valuenow': String(done),
  });
  for (const [part, n] of [
    ['completed', p.completed],
    ['failed', p.failed],
  ] as const) {
    const segment = el('span', { class: part });
    segment.style.width = total > 0 ? `${(100 * n) / total}%` : '0';
    bar.append(segment);
  }
  return el('div', {}, bar, el('span', { class: 'legend' }, label));
}

export function link(href: string, text: string): HTMLAnchorElement {
  return el('a', { href, class: 'id' }, text);
}

export function say(text: string, isError = false): void {
  const status = document.getElementById('status')!;
  status.textContent = text;
  status.className = isError ? 'error' : '';
}

/** Asks the page to draw its view again at once (after an action: a replay, a cancel). */
export function refresh(): void {
  window.dispatchEvent(new Event('omtx:refresh'));
}
