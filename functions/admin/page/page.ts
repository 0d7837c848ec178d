/**
 * The operator page: the pipeline's health, batches with their progress, dead letters with their
 * replay, and executions with their cancel — all through the admin API on this same origin, polled
 * every few seconds (the admin's request timeout would cut a long-lived stream).
 *
 * Every value from the API (ids, reasons, error messages, Modal's answers) is rendered as text:
 * `el()` appends strings as text nodes and nothing here sets markup. The Content-Security-Policy
 * (page-assets.ts) allows no inline script besides.
 */

const API = '/api/v3/webhooks';
const POLL_MS = 5000;

// ---------------------------------------------------------------- the API's answers, as read here

interface Signal {
  name: string;
  state: 'ok' | 'warn' | 'fail';
  detail: string;
}
interface Overview {
  generated_at: string;
  health: { verdict: string; signals: Signal[] };
  activity: Record<string, { at: string | null; age_seconds: number | null }>;
  backlog: { running_executions: number; stale_executions: number };
  dead_letters: { waiting: number; replayed: number };
  apps: Array<{ app: string; state: string; detail: string; last_verified_at: string | null }>;
}
interface Progress {
  total: number | null;
  completed: number;
  failed: number;
  pending: number | null;
  rate_per_minute: number | null;
  since_last_completion_seconds: number | null;
}
interface BatchRow {
  batch_id: string;
  status: string;
  registered_at: string | null;
  completed_at: string | null;
  progress: Progress;
}
interface JobRow {
  job_id: string;
  status: string;
  modal_call_id: string | null;
  affinity: number | null;
  confidence: number | null;
  error: string | null;
  updated_at: string | null;
}
interface DeadLetterRow {
  id: string;
  code: string;
  reason: string;
  delivery_id: string | null;
  job_id: string | null;
  attempts: number | null;
  replayable: boolean;
  age_seconds: number | null;
  replayed: boolean;
  replayed_at: string | null;
  replay_outcome: { kind: string; code?: string; at: string | null } | null;
}
interface ExecutionRow {
  call_id: string;
  job_id: string;
  batch_id: string | null;
  app: string | null;
  status: string;
  age_seconds: number | null;
}
interface RankedJob {
  job_id: string;
  affinity: number | null;
  confidence: number | null;
}
interface BatchDetail {
  batch_id: string;
  status?: string;
  total_jobs?: number;
  completed_jobs?: number;
  failed_jobs?: number;
  registered_at?: string;
  completed_at?: string;
  summary?: { success_rate?: number; mean_scores?: Record<string, number | null>; ranking?: RankedJob[] };
}

// ---------------------------------------------------------------- building blocks

type Child = Node | string | number | null | undefined | false;

/** An element with text children only: strings become text nodes, never markup. */
function el<K extends keyof HTMLElementTagNameMap>(
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

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function answer<T>(res: Response): Promise<T> {
  const body = (await res.json().catch(() => ({}))) as { message?: string; error?: string };
  if (!res.ok) throw new ApiError(res.status, `${res.status} ${body.error ?? ''}: ${body.message ?? res.statusText}`);
  return body as T;
}

const getJson = async <T>(path: string): Promise<T> =>
  answer<T>(await fetch(API + path, { headers: { Accept: 'application/json' } }));

/** A state-changing call: the header and content type the admin requires of every one (cross-site.ts). */
const postJson = async <T>(path: string, body: unknown): Promise<T> =>
  answer<T>(
    await fetch(API + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Requested-By': 'omtx', Accept: 'application/json' },
      body: JSON.stringify(body),
    }),
  );

const enc = encodeURIComponent;

function ago(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} d ago`;
}

const when = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString() : '—');
const score = (n: number | null | undefined): string => (typeof n === 'number' ? n.toFixed(3) : '—');

function table(caption: string, head: string[], rows: Node[], numeric: string[] = []): HTMLElement {
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

function facts(pairs: Array<[string, Child]>): HTMLElement {
  return el('dl', { class: 'facts' }, ...pairs.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

/** Completed, failed and pending of total, drawn: widths set through the CSSOM, which the policy allows. */
function progressBar(p: Progress): HTMLElement {
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

function link(href: string, text: string): HTMLAnchorElement {
  return el('a', { href, class: 'id' }, text);
}

function say(text: string, isError = false): void {
  const status = document.getElementById('status')!;
  status.textContent = text;
  status.className = isError ? 'error' : '';
}

// ---------------------------------------------------------------- views

async function overviewView(): Promise<Node> {
  const o = await getJson<Overview>('/overview');
  return el(
    'section',
    {},
    el(
      'h2',
      {},
      'Overview ',
      el('span', { class: `verdict ${o.health.verdict}`, 'data-testid': 'verdict' }, o.health.verdict),
    ),
    table(
      'Signals (the SLOs’ own, over the last 15 minutes)',
      ['Signal', 'State', 'Detail'],
      o.health.signals.map((s) =>
        el(
          'tr',
          {},
          el('td', {}, s.name.replace(/_/g, ' ')),
          el('td', {}, el('span', { class: `state ${s.state}` }, s.state)),
          el('td', {}, s.detail),
        ),
      ),
    ),
    table(
      'Last activity',
      ['Function', 'When', 'Age'],
      Object.entries(o.activity).map(([fn, a]) =>
        el('tr', {}, el('td', {}, fn), el('td', {}, when(a.at)), el('td', {}, ago(a.age_seconds))),
      ),
    ),
    el('h3', {}, 'Backlog and dead letters'),
    facts([
      ['Running executions', String(o.backlog.running_executions)],
      ['Stale executions', String(o.backlog.stale_executions)],
      ['Dead letters waiting', el('a', { href: '#/dead-letters' }, String(o.dead_letters.waiting))],
      ['Dead letters replayed', String(o.dead_letters.replayed)],
    ]),
    table(
      'Modal apps',
      ['App', 'State', 'Detail', 'Last verified'],
      o.apps.map((a) =>
        el(
          'tr',
          {},
          el('td', { class: 'id' }, a.app),
          el('td', {}, a.state),
          el('td', {}, a.detail),
          el('td', {}, when(a.last_verified_at)),
        ),
      ),
    ),
  );
}

async function batchesView(params: URLSearchParams): Promise<Node> {
  const status = params.get('status') ?? 'running';
  const query = new URLSearchParams({ limit: '20', ...(status !== 'all' ? { status } : {}) });
  const token = params.get('page_token');
  if (token) query.set('page_token', token);
  const page = await getJson<{ batches: BatchRow[]; next_page_token: string | null }>(`/batches?${query}`);
  const filter = el('select', { id: 'batch-status', 'aria-label': 'Show batches', 'data-key': 'batch-status' });
  for (const [value, label] of [
    ['running', 'Running'],
    ['completed', 'Completed'],
    ['all', 'All, latest first'],
  ] as const) {
    const option = el('option', { value }, label);
    option.selected = value === status;
    filter.append(option);
  }
  filter.addEventListener('change', () => (location.hash = `#/batches?status=${filter.value}`));
  return el(
    'section',
    {},
    el('h2', {}, 'Batches'),
    el(
      'div',
      { class: 'toolbar' },
      filter,
      page.next_page_token
        ? link(`#/batches?status=${status}&page_token=${enc(page.next_page_token)}`, 'Next page')
        : null,
    ),
    table(
      'Batches, the last changed first',
      ['Batch', 'Status', 'Progress', 'Rate', 'Last completion'],
      page.batches.map((b) =>
        el(
          'tr',
          { 'data-batch': b.batch_id },
          el('td', {}, link(`#/batches/${enc(b.batch_id)}`, b.batch_id)),
          el('td', {}, b.status),
          el('td', {}, progressBar(b.progress)),
          el('td', { class: 'num' }, b.progress.rate_per_minute === null ? '—' : `${b.progress.rate_per_minute}/min`),
          el('td', {}, ago(b.progress.since_last_completion_seconds)),
        ),
      ),
    ),
  );
}

async function batchView(batchId: string, params: URLSearchParams): Promise<Node> {
  const jobStatus = params.get('status') ?? '';
  const query = new URLSearchParams({ limit: '50', ...(jobStatus ? { status: jobStatus } : {}) });
  const token = params.get('page_token');
  if (token) query.set('page_token', token);
  const [batch, jobs] = await Promise.all([
    getJson<BatchDetail>(`/batches/${enc(batchId)}`),
    getJson<{ jobs: JobRow[]; next_page_token: string | null }>(`/batches/${enc(batchId)}/jobs?${query}`),
  ]);
  const total = batch.total_jobs ?? null;
  const completed = batch.completed_jobs ?? 0;
  const failed = batch.failed_jobs ?? 0;
  const progress: Progress = {
    total,
    completed,
    failed,
    pending: total === null ? null : Math.max(0, total - completed - failed),
    rate_per_minute: null,
    since_last_completion_seconds: null,
  };
  const filter = el('select', { 'aria-label': 'Show jobs', 'data-key': 'job-status' });
  for (const value of ['', 'completed', 'failed', 'timeout', 'cancelled', 'running', 'pending', 'stale']) {
    const option = el('option', { value }, value || 'all statuses');
    option.selected = value === jobStatus;
    filter.append(option);
  }
  filter.addEventListener(
    'change',
    () => (location.hash = `#/batches/${enc(batchId)}${filter.value ? `?status=${filter.value}` : ''}`),
  );
  const summary = batch.summary;
  return el(
    'section',
    {},
    el('h2', {}, 'Batch ', el('span', { class: 'id' }, batch.batch_id)),
    facts([
      ['Status', batch.status ?? 'running'],
      ['Progress', progressBar(progress)],
      ['Registered', when(batch.registered_at)],
      ['Completed', when(batch.completed_at)],
    ]),
    summary
      ? el(
          'div',
          {},
          el('h3', {}, 'Summary'),
          facts([
            [
              'Success rate',
              typeof summary.success_rate === 'number' ? `${(summary.success_rate * 100).toFixed(1)} %` : '—',
            ],
            ['Mean affinity', score(summary.mean_scores?.affinity)],
            ['Mean confidence', score(summary.mean_scores?.confidence)],
          ]),
          table(
            'Ranking',
            ['Rank', 'Job', 'Affinity', 'Confidence'],
            (summary.ranking ?? []).map((r, i) =>
              el(
                'tr',
                {},
                el('td', { class: 'num' }, String(i + 1)),
                el('td', {}, link(`#/jobs/${enc(r.job_id)}`, r.job_id)),
                el('td', { class: 'num' }, score(r.affinity)),
                el('td', { class: 'num' }, score(r.confidence)),
              ),
            ),
            ['Rank', 'Affinity', 'Confidence'],
          ),
        )
      : null,
    el('h3', {}, 'Jobs'),
    el(
      'div',
      { class: 'toolbar' },
      filter,
      jobs.next_page_token
        ? link(`#/batches/${enc(batchId)}?status=${jobStatus}&page_token=${enc(jobs.next_page_token)}`, 'Next page')
        : null,
    ),
    table(
      'Jobs of this batch, the last changed first',
      ['Job', 'Status', 'Affinity', 'Confidence', 'Error', 'Updated'],
      jobs.jobs.map((j) =>
        el(
          'tr',
          {},
          el('td', {}, link(`#/jobs/${enc(j.job_id)}`, j.job_id)),
          el('td', {}, j.status),
          el('td', { class: 'num' }, score(j.affinity)),
          el('td', { class: 'num' }, score(j.confidence)),
          el('td', {}, j.error ?? ''),
          el('td', {}, when(j.updated_at)),
        ),
      ),
      ['Affinity', 'Confidence'],
    ),
  );
}

/** Dead letters ticked for a replay, kept across polls. */
const selected = new Set<string>();

async function replay(ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  if (!confirm(`Replay ${ids.length} dead letter${ids.length === 1 ? '' : 's'} to the completions topic?`)) return;
  try {
    const result = await postJson<{ replayed: Array<{ id: string }>; skipped: Array<{ id: string; reason: string }> }>(
      '/dead-letters/replay',
      { ids },
    );
    for (const id of ids) selected.delete(id);
    say(
      `Replayed ${result.replayed.length}` +
        (result.skipped.length ? `; skipped ${result.skipped.map((s) => `${s.id} (${s.reason})`).join(', ')}` : '') +
        '. The outcome shows here once the worker applies it.',
    );
  } catch (err) {
    say(`Replay failed: ${String(err)}`, true);
  }
  await render();
}

function replayState(d: DeadLetterRow): string {
  if (!d.replayed) return d.replayable ? 'waiting' : 'not replayable (data not kept)';
  if (!d.replay_outcome) return `replayed ${when(d.replayed_at)}, on its way`;
  return `replayed: ${d.replay_outcome.kind}${d.replay_outcome.code ? ` (${d.replay_outcome.code})` : ''}`;
}

async function deadLettersView(params: URLSearchParams): Promise<Node> {
  const query = new URLSearchParams({ limit: '50' });
  const token = params.get('page_token');
  if (token) query.set('page_token', token);
  const page = await getJson<{ dead_letters: DeadLetterRow[]; next_page_token: string | null }>(
    `/dead-letters?${query}`,
  );
  const replaySelected = el('button', { type: 'button', 'data-key': 'replay-selected' }, 'Replay selected');
  replaySelected.addEventListener('click', () => void replay([...selected]));
  return el(
    'section',
    {},
    el('h2', {}, 'Dead letters'),
    el(
      'div',
      { class: 'toolbar' },
      replaySelected,
      page.next_page_token ? link(`#/dead-letters?page_token=${enc(page.next_page_token)}`, 'Next page') : null,
    ),
    table(
      'Dead letters, the newest first',
      ['Select', 'Dead letter', 'Delivery', 'Job', 'Reason', 'Attempts', 'Age', 'Replay', ''],
      page.dead_letters.map((d) => {
        const box = el('input', { type: 'checkbox', 'aria-label': `Select ${d.id}`, 'data-key': `select-${d.id}` });
        box.checked = selected.has(d.id);
        box.disabled = d.replayed || !d.replayable;
        box.addEventListener('change', () => (box.checked ? selected.add(d.id) : selected.delete(d.id)));
        const one = el(
          'button',
          { type: 'button', 'data-key': `replay-${d.id}`, 'aria-label': `Replay ${d.id}` },
          'Replay',
        );
        one.disabled = d.replayed || !d.replayable;
        one.addEventListener('click', () => void replay([d.id]));
        return el(
          'tr',
          { 'data-dead-letter': d.id },
          el('td', {}, box),
          el('td', { class: 'id' }, d.id),
          el('td', { class: 'id' }, d.delivery_id ?? '—'),
          el('td', {}, d.job_id ? link(`#/jobs/${enc(d.job_id)}`, d.job_id) : '—'),
          el('td', {}, el('code', {}, d.code), ' ', d.reason),
          el('td', { class: 'num' }, d.attempts === null ? '—' : String(d.attempts)),
          el('td', {}, ago(d.age_seconds)),
          el('td', { class: 'replay-state' }, replayState(d)),
          el('td', {}, one),
        );
      }),
      ['Attempts'],
    ),
  );
}

async function cancel(callId: string): Promise<void> {
  if (!confirm(`Cancel execution ${callId}? Modal is asked to stop it and its job is marked cancelled.`)) return;
  try {
    const result = await postJson<{ status?: string; modal?: { forwarded?: boolean } }>(
      `/executions/${enc(callId)}/cancel`,
      { reason: 'cancelled from the operator page' },
    );
    say(`Cancelled ${callId}: ${JSON.stringify(result)}`);
  } catch (err) {
    say(`Cancel failed: ${String(err)}`, true);
  }
  await render();
}

async function executionsView(params: URLSearchParams): Promise<Node> {
  const status = params.get('status') === 'stale' ? 'stale' : 'running';
  const page = await getJson<{ executions: ExecutionRow[] }>(`/active-executions?status=${status}&limit=100`);
  const form = el('form', { class: 'toolbar', 'aria-label': 'Look up by id' });
  const input = el('input', {
    name: 'id',
    'aria-label': 'Call or job id',
    placeholder: 'call or job id',
    'data-key': 'lookup',
  });
  const asCall = el('button', { type: 'submit', value: 'executions' }, 'Execution');
  const asJob = el('button', { type: 'submit', value: 'jobs' }, 'Job');
  form.append(input, asCall, asJob);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const kind = (e.submitter as HTMLButtonElement | null)?.value ?? 'executions';
    if (input.value.trim()) location.hash = `#/${kind}/${enc(input.value.trim())}`;
  });
  return el(
    'section',
    {},
    el('h2', {}, 'Executions'),
    form,
    el('div', { class: 'toolbar' }, link('#/executions', 'Running'), link('#/executions?status=stale', 'Stale')),
    table(
      `${status === 'stale' ? 'Stale' : 'Active'} executions, the oldest first`,
      ['Call', 'Job', 'Batch', 'App', 'Age', ''],
      page.executions.map((x) => {
        const stop = el(
          'button',
          { type: 'button', 'data-key': `cancel-${x.call_id}`, 'aria-label': `Cancel ${x.call_id}` },
          'Cancel',
        );
        stop.addEventListener('click', () => void cancel(x.call_id));
        return el(
          'tr',
          { 'data-call': x.call_id },
          el('td', {}, link(`#/executions/${enc(x.call_id)}`, x.call_id)),
          el('td', {}, link(`#/jobs/${enc(x.job_id)}`, x.job_id)),
          el('td', {}, x.batch_id ? link(`#/batches/${enc(x.batch_id)}`, x.batch_id) : '—'),
          el('td', {}, x.app ?? '—'),
          el('td', {}, ago(x.age_seconds)),
          el('td', {}, stop),
        );
      }),
    ),
  );
}

/** One execution or job as stored: each field as text, nested values as JSON text. */
async function recordView(kind: 'executions' | 'jobs', id: string): Promise<Node> {
  const record = await getJson<Record<string, unknown>>(`/${kind}/${enc(id)}`);
  return el(
    'section',
    {},
    el('h2', {}, kind === 'jobs' ? 'Job ' : 'Execution ', el('span', { class: 'id' }, id)),
    facts(
      Object.entries(record).map(([k, v]): [string, Child] => [
        k,
        typeof v === 'object' && v !== null ? el('code', {}, JSON.stringify(v)) : String(v),
      ]),
    ),
  );
}

// ---------------------------------------------------------------- routing and polling

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
    document.body.dataset.updated = new Date().toISOString();
    if (document.getElementById('status')!.className === 'error') say('');
  } catch (err) {
    say(err instanceof ApiError ? err.message : `cannot reach the admin API: ${String(err)}`, true);
  } finally {
    rendering = false;
  }
}

window.addEventListener('hashchange', () => {
  void render().then(() => document.getElementById('view')!.focus());
});
setInterval(() => {
  if (!document.hidden) void render();
}, POLL_MS);
void render();
