import type { ClusterConfig } from '../../lib/index.js';

/** The cluster the crash test's writer and checker both use. */
export const CRASH_CONFIG: ClusterConfig = { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false };
