/** The cells error catalogue: stable codes for bad maps, refused operations and unknown cells. */
import { defineErrors } from '../services/kit/errors.ts';

export const CellErrors = defineErrors({
  /** details: { problems: Array<{ path, message }> }, path is a JSON pointer into the map document. */
  CELL_MAP_INVALID: { status: 422, message: 'The cell map is invalid' },
  CELL_MAP_UNREADABLE: { status: 500, message: 'The cell map file cannot be read or is not JSON' },
  CELL_OPERATION_REJECTED: { status: 409, message: 'The cell map operation was rejected' },
  CELL_UNKNOWN: { status: 404, message: 'No such cell in the cell map' },
  /** A caller that needs a single Redis server met a Redis Cluster shard. details: { shard, cell } */
  CELL_SHARD_UNSUPPORTED: { status: 500, message: 'This caller cannot use a Redis Cluster shard' },
});

/** One thing wrong with a map, and where (JSON pointer into the document). */
export interface CellMapProblem {
  readonly path: string;
  readonly message: string;
}
