// One process per run folder: two runners in one folder would write the same files.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

/**
 * One process per run folder: `<run>/.lock` holds the owner's pid. A lock whose process is gone
 * (killed) is taken over; a live one is refused, since two runners would write the same files.
 */
export function lockRun(runDir: string): () => void {
  const path = join(runDir, ".lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const pid = Number(readFileSync(path, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new Error(`${runDir} is in use by process ${pid} (${path}); wait for it, or stop it first`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`cannot lock ${runDir} (${path})`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
