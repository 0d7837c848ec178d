/**
 * The operator page: the pipeline's health, batches with their progress, dead letters with their
 * replay, and executions with their cancel — all through the admin API on this same origin, polled
 * every few seconds (the admin's request timeout would cut a long-lived stream).
 *
 * Every value from the API (ids, reasons, error messages, Modal's answers) is rendered as text:
 * `el()` appends strings as text nodes and nothing here sets markup. The Content-Security-Policy
 * (page-assets.ts) allows no inline script besides.
 */

import { batchesView, batchView } from './batch-views.js';
import { deadLettersView } from './dead-letters-view.js';
import { say } from './dom.js';
import { ApiError } from './api.js';
import { executionsView, recordView } from './executions-view.js';
import { overviewView } from './overview-view.js';

const POLL_MS = 5000;

function viewFor(hash: string): { view: () => Promise<Node>; nav: string } {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case 'batches':
      return parts[1]
        ? { view: () => batchView(parts[1]!, params), nav: '#/batches' }
        : { view: () => batchesView(params), nav: '#/batches' };
    case 'dead-letters':
      return { view: () => deadLettersView(params), nav: '#/dead-letters' };
    case 'executions':
      return parts[1]
        ? { view: () => recordView('executions', parts[1]!), nav: '#/executions' }
        : { view: () => executionsView(params), nav: '#/executions' };
    case 'jobs':
      return { view: () => recordView('jobs', parts[1] ?? ''), nav: '#/executions' };
    default:
      return { view: overviewView, nav: '#/' };
  }
}

let rendering = false;

/** Draws the current view again, keeping the focused control focused across the redraw. */
async function render(): Promise<void> {
  if (rendering) return;
  rendering = true;
  const main = document.getElementById('view')!;
  const { view, nav } = viewFor(location.hash);
  for (const a of document.querySelectorAll('nav a')) {
    if (a.getAttribute('href') === nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const focusKey = (document.activeElement as HTMLElement | null)?.dataset?.key;
  const started = performance.now();
  try {
    const content = await view();
    main.replaceChildren(content);
    if (focusKey) main.querySelector<HTMLElement>(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
    // How long this view took, its API calls included: the browser tests print it.
    document.body.dataset.viewMs = (performance.now() - started).toFixed(1);
    // The first view drawn, in ms since navigation began: the page's load as a person sees it.
    document.body.dataset.drawnMs ??= performance.now().toFixed(0);
    document.body.dataset.updated = new Date().toISOString();
    if (document.getElementById('status')!.className === 'error') say('');
  } catch (err) {
    say(err instanceof ApiError ? err.message : `cannot reach the admin API: ${String(err)}`, true);
  } finally {
    rendering = false;
  }
}

window.addEventListener('omtx:refresh', () => void render());
window.addEventListener('hashchange', () => {
  void render().then(() => document.getElementById('view')!.focus());
});
setInterval(() => {
  if (!document.hidden) void render();
}, POLL_MS);
void render();
