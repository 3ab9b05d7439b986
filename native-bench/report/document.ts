/** The results document: one JSON file per run (every figure, the machine, versions, settings, method). */
import type { RunRecord } from '../lib/measure.ts';

export interface MicroRow {
  group: string;
  task: string;
  /** Operations per second (per item for batched tasks). */
  opsPerSecond: number;
  nsPerOp: number;
  /** Redis execution time per call from INFO commandstats, for script tasks. */
  redisUsPerCall?: number;
  note?: string;
}

export interface WsFanoutResult {
  clients: number;
  connected: number;
  subscribed: number;
  updates: number;
  /** From the edge publishing the message to its arrival, per client and update. */
  publishToClientMs: { p50: number; p90: number; p99: number; max: number };
  /** From the stock change (the purchase answered) to arrival at the client: includes the directory's polling. */
  changeToClientMs: { p50: number; p90: number; p99: number; max: number };
  /** Time until the last of the clients got an update, per update. */
  lastClientMs: { p50: number; p99: number };
  edgeRssBeforeBytes: number;
  edgeRssAfterBytes: number;
  bytesPerConnection: number;
  missed: number;
}

export interface TuneRow {
  settings: {
    batchMaxSize: number;
    batchMaxWaitMicros: number;
    minThreads: number;
    maxThreads: number;
    concurrentTasksPerWorker: number;
  };
  record: RunRecord;
}

export interface TuneResult {
  rows: TuneRow[];
  recommended: TuneRow['settings'];
  reason: string;
  command: string;
}

export interface TargetCheck {
  scenario: string;
  target: string;
  measured: string;
  met: boolean | null;
  note?: string;
}

export interface BenchDocument {
  kind: 'titan-native-bench';
  version: 1;
  startedAt: string;
  finishedAt: string;
  smoke: boolean;
  scenarios: string[];
  machine: {
    cpus: number;
    cpuModel: string;
    memoryBytes: number;
    kernel: string;
    /** 1/5/15-minute load average when the bench was launched, before its own set-up. */
    loadAverageAtStart: number[];
    /** The same once the stack ran and the buyers were registered (runs written before 2026-12-08 lack it). */
    loadAverageAfterSetup?: number[];
  };
  versions: Record<string, string>;
  settings: Record<string, unknown>;
  method: string[];
  records: RunRecord[];
  micro?: MicroRow[];
  wsFanout?: WsFanoutResult;
  tune?: TuneResult;
  targets: TargetCheck[];
  profiles?: Record<string, string>;
  notes: string[];
}
