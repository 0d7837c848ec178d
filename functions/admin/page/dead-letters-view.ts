/** Dead letters, the newest first, and their replay after a confirmation. */
import { getJson, postJson, type DeadLetterRow } from './api.js';
import { ago, el, enc, link, refresh, say, table, when } from './dom.js';

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
  refresh();
}

function replayState(d: DeadLetterRow): string {
  if (!d.replayed) return d.replayable ? 'waiting' : 'not replayable (data not kept)';
  if (!d.replay_outcome) return `replayed ${when(d.replayed_at)}, on its way`;
  return `replayed: ${d.replay_outcome.kind}${d.replay_outcome.code ? ` (${d.replay_outcome.code})` : ''}`;
}

export async function deadLettersView(params: URLSearchParams): Promise<Node> {
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
