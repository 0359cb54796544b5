import { ConfigError, loadConfig } from './config.js';
import { CatalogError } from './catalog/catalog.js';
import { createService } from './service.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nSee .env.example for every setting.\n`);
      process.exit(1);
    }
    throw err;
  }
  const service = await createService(config);
  await service.listen();
  let signals = 0;
  const stop = (signal: string) => {
    signals += 1;
    if (signals > 1) process.exit(1);
    service.logger.info({ signal }, 'shutting down: finishing in-flight requests and jobs');
    const force = setTimeout(() => {
      service.logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    service.shutdown().then(
      () => {
        service.logger.info('stopped');
        process.exit(0);
      },
      (err) => {
        service.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  if (err instanceof CatalogError) process.stderr.write(`${err.message}\n`);
  else process.stderr.write(`DOTM failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
