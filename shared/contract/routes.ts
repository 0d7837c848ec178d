/**
 * The webhook's public routes, the seed guide's contract: where Modal posts completions and where
 * the health check looks. Written once here; the handler, the admin API's configure step, the local
 * stack and the bench build their URLs from these.
 */
export const COMPLETION_PATH = '/api/v3/webhooks/modal/completion';
export const HEALTH_PATH = '/api/v3/webhooks/modal/health';

/** Every path the webhook answers a completion on (the seed's, and the bare root). */
export const COMPLETION_PATHS: readonly string[] = ['/', COMPLETION_PATH];
export const HEALTH_PATHS: readonly string[] = ['/health', HEALTH_PATH];
