/**
 * `GET …/status`: whether the pipeline can work (the topic and Firestore reachable, the secret and
 * URLs configured) and each Modal app's state, as operators need it; the public webhook's /health
 * says none of this.
 */
import type { AdminConfig } from '../../shared/config/config';
import type { AdminStore } from '../../shared/ports';
import { route, type Route } from './router';

export interface StatusDeps {
  config: Readonly<AdminConfig>;
  store: AdminStore;
  /** Whether the completions topic exists and can be reached. */
  topicReachable: () => Promise<boolean>;
  version: string;
}

export function createStatusRoute(PREFIX: string, deps: StatusDeps): Route {
  const { config, store } = deps;
  return route('GET', `${PREFIX}/status`, async () => {
    const [topicReachable, firestoreReachable] = await Promise.all([
      deps.topicReachable().catch(() => false),
      store.ping().then(
        () => true,
        () => false,
      ),
    ]);
    const appDocs = firestoreReachable ? await store.listApps() : [];
    const names = new Set<string>([...config.expectedApps, ...appDocs.map((a) => String(a.app))]);
    const apps = [...names].sort().map((app) => {
      const doc = appDocs.find((a) => a.app === app);
      return {
        app,
        expected: config.expectedApps.includes(app),
        configured: doc?.signed_with === 'current',
        signed_with: doc?.signed_with ?? null,
        signature_scheme: doc?.signature_scheme ?? null,
        last_verified_at: doc?.last_verified_at ?? null,
        last_call_id: doc?.last_call_id ?? null,
      };
    });
    const appsConfigured = apps.filter((a) => a.configured).length;
    // Apps whose last verified webhook was signed the seed's body-only way (replayable with a fresh
    // timestamp): re-running their configure command moves them to the timestamp-bound scheme.
    const unboundSigning = apps.filter((a) => a.signature_scheme === 'modal').map((a) => a.app);
    const reachable = topicReachable && firestoreReachable;
    return {
      status: 200,
      body: {
        configured: reachable && apps.length > 0 && appsConfigured === apps.length,
        base_url: config.baseUrl ?? null,
        apps_configured: appsConfigured,
        unbound_signing_apps: unboundSigning,
        // What the webhook accepts: `["standard"]` once the seed's replayable scheme is refused.
        accepted_signature_schemes: config.signatureSchemes,
        total_apps: apps.length,
        health_status: !reachable ? 'unhealthy' : appsConfigured < apps.length ? 'degraded' : 'healthy',
        checks: {
          secret_configured: config.secret.length > 0,
          topic_reachable: topicReachable,
          firestore_reachable: firestoreReachable,
          webhook_url_configured: Boolean(config.webhookUrl),
          modal_control_url_configured: Boolean(config.modalControlUrl),
        },
        apps,
        version: deps.version,
      },
    };
  });
}
