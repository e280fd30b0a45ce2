// What makes a run's numbers traceable: the resolved config (config.resolved.json; a rerun with
// another config is refused instead of mixing two) and the manifest (versions, seeds, sha256 of
// the recipe, of the input model's files and, once the run finishes, of every stage's outputs).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ImageSourceSpec } from "../data/image-source.js";
import type { Continuation, WaitingState } from "./waiting.js";

export interface Manifest {
  selfsynth: string;
  libtorch: string;
  node: string;
  platform: string;
  recipe: { path: string; sha256: string };
  profile: string | null;
  seed: number;
  threads: number;
  /** Per stage, derived from the run seed and the stage name. */
  stageSeeds: Record<string, number>;
  /** null in a run over the user's images (no SceneWorld). */
  world: { config: string; dir: string; configHash: string } | null;
  /** The recipe's image source, when it names one. */
  images?: ImageSourceSpec;
  /** The starting model: a checkpoint folder with its files' sha256, or a served model. */
  inputs: {
    model: { dir: string; files: Record<string, string> } | { endpoint: { baseUrls: string[]; model: string } };
  };
  /**
   * Each finished stage's output files under stages/<name>/ (sha256), filled when the run finishes
   * or waits; a stage continued with a served model (`--continue-with`) records it.
   */
  stages: Record<string, { type: string; model: string; files: Record<string, string>; continuedWith?: Continuation }>;
  /** running (work may be ahead), waiting (for a stage's trained model: waiting.json), finished. */
  status?: "running" | "waiting" | "finished";
  /** While waiting: the stage, its export and the commands (as waiting.json). */
  waiting?: WaitingState;
  startedAt: string;
  finishedAt: string | null;
}

/** selfsynth's version, from its own package.json (found upwards from this file: src/ or dist/src/). */
export function selfsynthVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const path = join(dir, "package.json");
    if (existsSync(path)) {
      const pkg = JSON.parse(readFileSync(path, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "selfsynth") return pkg.version ?? "unknown";
    }
    const parent = dirname(dir);
    if (parent === dir) return "unknown";
    dir = parent;
  }
}

/** JSON with object keys sorted, so that two configs compare by content. */
export function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v !== null && typeof v === "object"
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(sort(JSON.parse(JSON.stringify(value))));
}

/** Leaf paths where two JSON values differ (`eval.limit`, `stages[1].beta`), with both values. */
export function diffPaths(a: unknown, b: unknown, path = ""): { path: string; before: unknown; after: unknown }[] {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  if (Array.isArray(a) && Array.isArray(b)) {
    const out: { path: string; before: unknown; after: unknown }[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) out.push(...diffPaths(a[i], b[i], `${path}[${i}]`));
    return out;
  }
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => diffPaths(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return canonicalJson(a ?? null) === canonicalJson(b ?? null) ? [] : [{ path, before: a, after: b }];
}

export class ConfigChangedError extends Error {
  override name = "ConfigChangedError";
}

/** Refuses when `stored` (a run's config.resolved.json) and `current` differ; the message names the fields. */
export function checkSameConfig(runDir: string, stored: unknown, current: unknown): void {
  if (canonicalJson(stored) === canonicalJson(current)) return;
  const diffs = diffPaths(stored, current);
  const top = [...new Set(diffs.map((d) => d.path.split(/[.[]/)[0]))];
  const show = (v: unknown) => (v === undefined ? "(none)" : JSON.stringify(v));
  const detail = diffs
    .slice(0, 6)
    .map((d) => `  ${d.path}: ${show(d.before)} in the run, ${show(d.after)} now`)
    .join("\n");
  const more = diffs.length > 6 ? `\n  ... and ${diffs.length - 6} more` : "";
  throw new ConfigChangedError(
    `${runDir} was started with another config (${join(runDir, "config.resolved.json")}); differing fields: ${top.join(", ")}\n${detail}${more}\nrerun with the same recipe, profile, seed and threads, or pass --out <another folder>`,
  );
}

/** Refuses when the input model's files changed since the run began (its stages built on the old ones). */
export function checkSameInputs(runDir: string, stored: Manifest | undefined, files: Record<string, string>): void {
  if (stored === undefined) return;
  const model = stored.inputs.model;
  if (!("files" in model)) return;
  const diffs = diffPaths(model.files, files).map((d) => d.path);
  if (diffs.length === 0) return;
  throw new ConfigChangedError(
    `the starting model ${model.dir} changed since ${runDir} began (files ${diffs.slice(0, 5).join(", ")}${
      diffs.length > 5 ? ", ..." : ""
    } differ from ${join(runDir, "manifest.json")}); pass --out <another folder> to start a new run`,
  );
}
