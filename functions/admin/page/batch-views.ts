/** Batches with their progress, and one batch: its jobs by status, its summary and ranking. */
import { getJson, type BatchDetail, type BatchRow, type JobRow, type Progress } from './api.js';
import { ago, el, enc, facts, link, progressBar, score, table, when } from './dom.js';

export async function batchesView(params: URLSearchParams): Promise<Node> {
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

/** What the batch document says of its progress (its counts are the counter shards' sums). */
function progressOf(batch: BatchDetail): Progress {
  const total = batch.total_jobs ?? null;
  const completed = batch.completed_jobs ?? 0;
  const failed = batch.failed_jobs ?? 0;
  return {
    total,
    completed,
    failed,
    pending: total === null ? null : Math.max(0, total - completed - failed),
    rate_per_minute: null,
    since_last_completion_seconds: null,
  };
}

/** A finished batch's summary and ranking. */
function summarySection(summary: NonNullable<BatchDetail['summary']>): HTMLElement {
  const rate = summary.success_rate;
  return el(
    'div',
    {},
    el('h3', {}, 'Summary'),
    facts([
      ['Success rate', typeof rate === 'number' ? `${(rate * 100).toFixed(1)} %` : '—'],
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
  );
}

/** One page of the batch's jobs, with a status filter and the next page's link. */
function jobsSection(
  batchId: string,
  jobStatus: string,
  jobs: { jobs: JobRow[]; next_page_token: string | null },
): HTMLElement {
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
  const next = jobs.next_page_token;
  return el(
    'div',
    {},
    el('h3', {}, 'Jobs'),
    el(
      'div',
      { class: 'toolbar' },
      filter,
      next ? link(`#/batches/${enc(batchId)}?status=${jobStatus}&page_token=${enc(next)}`, 'Next page') : null,
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

export async function batchView(batchId: string, params: URLSearchParams): Promise<Node> {
  const jobStatus = params.get('status') ?? '';
  const query = new URLSearchParams({ limit: '50', ...(jobStatus ? { status: jobStatus } : {}) });
  const token = params.get('page_token');
  if (token) query.set('page_token', token);
  const [batch, jobs] = await Promise.all([
    getJson<BatchDetail>(`/batches/${enc(batchId)}`),
    getJson<{ jobs: JobRow[]; next_page_token: string | null }>(`/batches/${enc(batchId)}/jobs?${query}`),
  ]);
  return el(
    'section',
    {},
    el('h2', {}, 'Batch ', el('span', { class: 'id' }, batch.batch_id)),
    facts([
      ['Status', batch.status ?? 'running'],
      ['Progress', progressBar(progressOf(batch))],
      ['Registered', when(batch.registered_at)],
      ['Completed', when(batch.completed_at)],
    ]),
    batch.summary ? summarySection(batch.summary) : null,
    jobsSection(batchId, jobStatus, jobs),
  );
}
