/** Tests only: holds each task for the given milliseconds and answers how many tasks this thread ran at once. */
let running = 0;
let most = 0;

export default async function overlap(holdMs: number): Promise<number> {
  running++;
  most = Math.max(most, running);
  await new Promise((resolve) => setTimeout(resolve, holdMs));
  running--;
  return most;
}
