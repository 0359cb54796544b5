export { startLocalOxio } from './server.js';
export type { FailureMode, FailureRule, LocalOxio, LocalOxioLine, LocalOxioOptions, LocalOxioSearchOptions, LocalOxioStats } from './server.js';
