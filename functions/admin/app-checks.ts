/**
 * Each Modal app's configuration state for `POST …/configure`: its control endpoint asked for a
 * signed test delivery, then the wait until the deliveries accepted on their way reach the worker,
 * which records every app whose webhook verified (shared/modal/modal-config.ts `appState`).
 */
import type { ModalClient } from '../../shared/modal/modal-client';
import { appState, type AppState, type ModalApp } from '../../shared/modal/modal-config';
import type { AdminStore, Clock } from '../../shared/ports';

type TestAnswer = NonNullable<Parameters<typeof appState>[0]['test']>;

export interface AppChecksDeps {
  store: Pick<AdminStore, 'listApps'>;
  modal: ModalClient;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
}

export function createAppChecks({ store, modal, clock, sleep }: AppChecksDeps) {
  async function askForTestDelivery(app: string, controlUrl: string | undefined): Promise<TestAnswer> {
    if (!controlUrl) return { kind: 'no_control' };
    try {
      const answer = await modal.askForTestDelivery(controlUrl, app);
      if (answer.status >= 300) return { kind: 'refused', status: answer.status };
      const body = JSON.parse(answer.text || '{}') as { webhook_status?: number; webhook_error?: string };
      return {
        kind: 'delivered',
        webhookStatus: Number(body.webhook_status ?? 0),
        ...(body.webhook_error ? { webhookError: body.webhook_error } : {}),
      };
    } catch (err) {
      return { kind: 'unreachable', error: String(err) };
    }
  }

  async function verifiedSince(): Promise<
    Map<string, { at: Date; signedWith: 'current' | 'previous'; scheme?: string }>
  > {
    const docs = await store.listApps();
    return new Map(
      docs.map((d) => [
        String(d.app),
        {
          at: d.last_verified_at instanceof Date ? d.last_verified_at : new Date(0),
          signedWith: d.signed_with === 'previous' ? ('previous' as const) : ('current' as const),
          ...(typeof d.signature_scheme === 'string' ? { scheme: d.signature_scheme } : {}),
        },
      ]),
    );
  }

  /**
   * Each app's state: with `autoConfigure`, its control endpoint is asked for a test delivery first,
   * and the check waits (up to `waitSeconds`) for the deliveries accepted on their way to the worker.
   */
  async function checkApps(
    apps: readonly ModalApp[],
    autoConfigure: boolean,
    waitSeconds: number,
  ): Promise<Map<string, AppState>> {
    const since = clock();
    const tests = new Map<string, TestAnswer>();
    if (autoConfigure) {
      await Promise.all(apps.map(async (a) => tests.set(a.name, await askForTestDelivery(a.name, a.controlUrl))));
    }
    const deadline = since.getTime() + (autoConfigure ? waitSeconds * 1000 : 0);
    for (;;) {
      const verified = await verifiedSince();
      const states = new Map(
        apps.map((a) => [a.name, appState({ since, verified: verified.get(a.name), test: tests.get(a.name) })]),
      );
      // Wait only for apps whose test delivery was accepted and is on its way to the worker.
      const pending = apps.some(
        (a) => states.get(a.name)!.state === 'waiting' && tests.get(a.name)?.kind === 'delivered',
      );
      if (!pending || clock().getTime() >= deadline) return states;
      await sleep(250);
    }
  }

  return checkApps;
}
