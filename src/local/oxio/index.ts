export { startLocalOxio } from './server.js';
export type { FailureMode, FailureRule, LocalOxio, LocalOxioLine, LocalOxioOptions, LocalOxioStats } from './server.js';
