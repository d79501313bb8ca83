/** The gateway's health probes: their request ids carry this prefix, and their receipts are acknowledged, never billed. */
export const PROBE_PREFIX = "probe-";

export const probeRequestId = (uuid: string): string => `${PROBE_PREFIX}${uuid}`;
export const isProbeRequest = (requestId: string): boolean => requestId.startsWith(PROBE_PREFIX);
