/** probe-edge's report: what became of the holders and the completions, and what that says of the front end. */
import { summarizeProbe, type HolderOutcome } from '../../../../scripts/tools/probe-edge';

const byWebhook = (afterMs: number): HolderOutcome => ({ status: 408, afterMs, fromWebhook: true, stillOpen: false });
const heldOpen: HolderOutcome = { status: 0, afterMs: 60_000, fromWebhook: false, stillOpen: true };

it('says the front end streams bodies when the webhook itself let every holder go', () => {
  expect(summarizeProbe([byWebhook(5100), byWebhook(5400)], [202, 202])).toEqual([
    'holders: 2; answered by the webhook (408) after 5.1–5.4 s: 2; closed otherwise: 0; still open: 0',
    'completions: 2/2 accepted (2×202)',
    'verdict: the front end streams bodies to the instance: the webhook itself let every holder go; completions got through',
  ]);
});

it('says the front end holds bodies when no holder reached the webhook, and names refused completions', () => {
  const lines = summarizeProbe([heldOpen, { ...heldOpen, stillOpen: false, afterMs: 30_000 }], [202, 503, 0]);
  expect(lines[0]).toBe('holders: 2; answered by the webhook (408) after —: 0; closed otherwise: 1; still open: 1');
  expect(lines[1]).toBe('completions: 1/3 accepted (1×202 1×503 1×dropped)');
  expect(lines[2]).toMatch(/^verdict: no holder reached the webhook: .*; completions were refused meanwhile$/);
});
