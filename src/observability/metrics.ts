import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics, on a registry of our own (no globals: two instances in one test process
 * must not share counters). http/ records requests; the registry core reports gauges through
 * collect callbacks so it never imports prom-client.
 */
export class WharfMetrics {
  readonly registry = new Registry();
  readonly requests: Histogram<'method' | 'route' | 'status'>;
  readonly bytesIn: Counter;
  readonly bytesOut: Counter;
  readonly blobRedirects: Counter;
  readonly uploadsInProgress: Gauge;
  readonly insightsAnalyses: Counter<'result'>;
  readonly insightsDuration: Histogram;

  constructor(options: { uploadsInProgress?: () => number; defaultMetrics?: boolean } = {}) {
    this.requests = new Histogram({
      name: 'wharf_http_request_duration_seconds',
      help: 'HTTP requests by route, method and status, with their duration',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [this.registry],
    });
    this.bytesIn = new Counter({
      name: 'wharf_blob_bytes_received_total',
      help: 'Blob bytes received in uploads',
      registers: [this.registry],
    });
    this.bytesOut = new Counter({
      name: 'wharf_blob_bytes_sent_total',
      help: 'Blob bytes sent in pulls (as announced by Content-Length)',
      registers: [this.registry],
    });
    this.blobRedirects = new Counter({
      name: 'wharf_blob_redirects_total',
      help: 'Blob downloads redirected to a presigned object-store URL (their bytes are not counted as sent)',
      registers: [this.registry],
    });
    const read = options.uploadsInProgress;
    this.uploadsInProgress = new Gauge({
      name: 'wharf_uploads_in_progress',
      help: 'Upload chunks being received right now',
      registers: [this.registry],
      collect() {
        if (read) this.set(read());
      },
    });
    this.insightsAnalyses = new Counter({
      name: 'wharf_insights_analyses_total',
      help: 'Image analyses (features/insights) run, by result: done or failed',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.insightsDuration = new Histogram({
      name: 'wharf_insights_analysis_duration_seconds',
      help: 'How long image analyses took (reading layers included)',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
      registers: [this.registry],
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'wharf_' });
  }
}
