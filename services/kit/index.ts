/** The shared kit every Titan process stands on. Other folders import only from here. */
export {
  ConfigErrors,
  loadEnvConfig,
  Port,
  parseConfigDocument,
  readConfigFile,
  serviceListenHost,
} from './config.ts';
export {
  createPool,
  DbErrors,
  type MigrationResult,
  migrate,
  type Pool,
  type PoolClient,
  withTransaction,
} from './db.ts';
export { defineErrors, type ErrorFactory, type ErrorSpec, isTitanError, TitanError } from './errors.ts';
export { Health, type ReadinessCheck, type ReadinessReport } from './health.ts';
export { HttpErrors } from './http/errors.ts';
export {
  type BodyWatch,
  DirectRoute,
  errorReply,
  failureReply,
  type Handler,
  HttpServer,
  type HttpServerOptions,
  type Method,
  type Reply,
  type RequestContext,
  type RouteInfo,
  type RouteTarget,
  requestIdOf,
  safeDecode,
  statusLine,
  writeReply,
} from './http/server.ts';
export {
  type HttpRequest,
  type HttpResponse,
  loadUws,
  requireNativeUws,
  type Uws,
  UwsErrors,
} from './http/uws.ts';
export { queryObject, type RouteSchema, Validator } from './http/validation.ts';
export { type Closer, Lifecycle, type LifecycleOptions } from './lifecycle.ts';
export { createLogger, type Logger, nextRequestId, REDACTED_PATHS, redactUrl } from './logger.ts';
export {
  Counter,
  createMetrics,
  Gauge,
  Histogram,
  LATENCY_BUCKETS,
  METRIC_PREFIX,
  type Metrics,
} from './metrics.ts';
export { createRedis, type Redis } from './redis.ts';
export { within } from './within.ts';
