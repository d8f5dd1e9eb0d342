import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * The device's durable record of deployments, in <dataDir>/deployment/ (every write synced, then
 * renamed, then the folder synced, so a power cut leaves the old file or the new one, never half):
 * desired.json — the signed document the supervisor runs now (the supervisor reads it on every reload);
 * good.json — the last one the decider called healthy (what a rollback restores);
 * state.json — the highest version applied (replays are refused against it) and the one being watched.
 * The supervisor's deployment.ts names the same desired.json (services and the CLI share no code but libs).
 */

export interface DeployState {
  lastVersion: number;
  /** The version applied last and its workers (what a rollback rolls back). */
  current?: { version: number; workers: string[]; healthWindowSeconds: number; healthy: boolean };
  /** The version of good.json (0 or absent: none, a rollback goes back to the local config alone). */
  good?: number;
}

export const deployFiles = (dataDir: string) => {
  const dir = join(dataDir, "deployment");
  return { dir, desired: join(dir, "desired.json"), good: join(dir, "good.json"), state: join(dir, "state.json"), nonces: join(dir, "nonces.json") };
};

export function writeSynced(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  syncDir(dirname(file));
}

export function removeSynced(file: string): void {
  rmSync(file, { force: true });
  syncDir(dirname(file));
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    fsyncSync(fd);
    closeSync(fd);
  } catch {
    /* some file systems refuse a directory fsync: the rename is then as durable as they make it */
  }
}

export function readJson<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

export const readState = (dataDir: string): DeployState => readJson<DeployState>(deployFiles(dataDir).state) ?? { lastVersion: 0 };
export const writeState = (dataDir: string, s: DeployState): void => writeSynced(deployFiles(dataDir).state, `${JSON.stringify(s, null, 2)}\n`);
