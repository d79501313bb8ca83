/**
 * A child started by the local network keeps a pipe on stdin; when the parent dies, even by
 * SIGKILL, the pipe closes and the child stops too, so no process is left behind.
 */
export function exitWithParent(stop: () => void): void {
  if (process.env.MESHGATE_EXIT_WITH_PARENT !== "1") return;
  process.stdin.on("end", stop);
  process.stdin.on("error", stop);
  process.stdin.resume();
}
