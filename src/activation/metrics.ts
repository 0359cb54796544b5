// The activation gauges on /metrics: the hourly window and the queue, read from the database at
// scrape time (every instance shows the same numbers).
import type { Metrics } from '../http/metrics.js';
import type { ActivationService, RateLimitStats } from './activation-service.js';

export function registerActivationGauges(metrics: Metrics, activation: ActivationService, limit: number): void {
  // One statistics query per scrape, shared by the gauges.
  let scrape: Promise<RateLimitStats> | undefined;
  const stats = () => {
    scrape ??= activation.stats().finally(() => setTimeout(() => (scrape = undefined), 0));
    return scrape;
  };
  metrics.gauge('dotm_activations_current_hour', 'Activations started in the last 60 minutes', async () => (await stats()).current_hour_activations);
  metrics.gauge('dotm_activations_max_per_hour', 'ACTIVATIONS_PER_HOUR', () => limit);
  metrics.gauge('dotm_activation_slots_available', 'Activations that may start now', async () => (await stats()).slots_available);
  metrics.gauge('dotm_activation_queue_length', 'Paid activations waiting for a slot', async () => (await stats()).queue_length);
  metrics.gauge(
    'dotm_activation_estimated_wait_minutes',
    'Wait for a payment made now, in whole minutes',
    async () => (await stats()).estimated_wait_minutes,
  );
}
