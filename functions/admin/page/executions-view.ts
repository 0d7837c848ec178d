/** Active executions with their cancel, and one execution or job as stored. */
import { getJson, postJson, type ExecutionRow } from './api.js';
import { ago, el, enc, facts, link, refresh, say, table, type Child } from './dom.js';

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
  refresh();
}

export async function executionsView(params: URLSearchParams): Promise<Node> {
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
export async function recordView(kind: 'executions' | 'jobs', id: string): Promise<Node> {
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
