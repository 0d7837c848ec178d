/** The deployed version, reported by the health endpoint and in start-up logs: SERVICE_VERSION, else Cloud Run's revision. */
export function serviceVersion(env: Record<string, string | undefined>): string {
  return env.SERVICE_VERSION ?? env.K_REVISION ?? '0.1.0';
}
