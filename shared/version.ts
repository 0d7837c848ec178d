/** The deployed version, reported by the health endpoint and in start-up logs. */
export const VERSION: string = process.env.SERVICE_VERSION ?? process.env.K_REVISION ?? '0.1.0';
