import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  toolCalls: Counter<'tool' | 'outcome'>;
  toolDuration: Histogram<'tool' | 'outcome'>;
  /** Payments for an activation that was paid already: each needs a refund (GET /admin/payments/refunds-due). */
  duplicatePayments: Counter;
  /** Gauges filled from the database on each scrape by whoever registers a collector. */
  gauge(name: string, help: string, collect: () => Promise<number> | number): Gauge;
}

/** One registry per app instance (tests run several apps in one process). */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  return {
    registry,
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by method and route',
      labelNames: ['method', 'route'],
      buckets,
      registers: [registry],
    }),
    toolCalls: new Counter({
      name: 'mcp_tool_calls_total',
      help: 'MCP tool calls by tool and outcome (ok, user_error, error)',
      labelNames: ['tool', 'outcome'],
      registers: [registry],
    }),
    toolDuration: new Histogram({
      name: 'mcp_tool_duration_seconds',
      help: 'MCP tool call latency by tool',
      labelNames: ['tool', 'outcome'],
      buckets,
      registers: [registry],
    }),
    duplicatePayments: new Counter({
      name: 'dotm_duplicate_payments_total',
      help: 'Second payments for an activation that was paid already (each needs a refund)',
      registers: [registry],
    }),
    gauge(name, help, collect) {
      return new Gauge({
        name,
        help,
        registers: [registry],
        async collect() {
          try {
            this.set(await collect());
          } catch {
            // A failed scrape of one gauge must not fail the whole /metrics answer.
          }
        },
      });
    },
  };
}
