/** Summaries of V8 `.cpuprofile` files (node --cpu-prof): the functions with the most self time. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * "busy 35.1 s: fn (file:line) 12.3%; ..." for the `top` functions by self time, as shares of the thread's
 * busy time: idle samples are left out (a profile covers the process's whole life, mostly idle between runs).
 */
export function summarizeProfile(file: string, top = 12): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byNode = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const n = byNode.get(id);
    if (!n) return;
    const f = n.callFrame;
    const where = f.url
      ? `${f.url.replace(/^.*\/(node_modules\/|work\/main\/)?/, '')}:${f.lineNumber + 1}`
      : '';
    if (f.functionName === '(idle)') return;
    const key = `${f.functionName || '(anonymous)'}${where ? ` (${where})` : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  const ranked = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${k} ${((v / total) * 100).toFixed(1)}%`)
    .join('; ');
  return `busy ${(total / 1e6).toFixed(1)} s: ${ranked}`;
}

export function profileFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}
