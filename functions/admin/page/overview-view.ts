/** The overview: the verdict and its signals, last activity, backlog, dead letters, Modal apps. */
import { getJson, type Overview } from './api.js';
import { ago, el, facts, table, when } from './dom.js';

export async function overviewView(): Promise<Node> {
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
