/**
 * The cell map as the edge serves it: loaded and validated at start, then watched, so a new map
 * version (a tuned pool, moved slots, a failover) takes effect without a restart. An invalid or older
 * map is refused with a log line, and the current one keeps serving.
 */
import { unwatchFile, watchFile } from 'node:fs';
import { type CellMap, CellRouter, loadCellMap } from '../cells/index.ts';
import type { Logger } from '../services/kit/index.ts';

export class CellRouting {
  #router: CellRouter;
  readonly #listeners: ((router: CellRouter, previous: CellRouter) => void)[] = [];

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {
    this.#router = new CellRouter(loadCellMap(path));
    log.info(
      { mapVersion: this.#router.version, cells: this.#router.cells.length, path },
      'serving cell map',
    );
  }

  get router(): CellRouter {
    return this.#router;
  }

  get map(): CellMap {
    return this.#router.map;
  }

  onChange(listener: (router: CellRouter, previous: CellRouter) => void): void {
    this.#listeners.push(listener);
  }

  /** Re-reads the file; returns true when a newer version was taken. */
  reload(): boolean {
    let next: CellRouter;
    try {
      next = new CellRouter(loadCellMap(this.path));
    } catch (err) {
      this.log.error({ err, path: this.path }, 'new cell map refused; still serving the previous version');
      return false;
    }
    if (next.version <= this.#router.version) return false;
    const previous = this.#router;
    this.#router = next;
    this.log.info(
      { mapVersion: next.version, previousVersion: previous.version },
      'serving new cell map version',
    );
    for (const l of this.#listeners) l(next, previous);
    return true;
  }

  watch(intervalMs = 1000): void {
    watchFile(this.path, { interval: intervalMs }, () => this.reload());
  }

  close(): void {
    unwatchFile(this.path);
  }
}
