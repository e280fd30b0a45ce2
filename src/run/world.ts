// The world a run reads: SceneWorld splits under the recipe's world.dir, built on demand from the
// recipe's world config. Only missing splits are built; a folder holding any split built from
// another config (its `<split>.meta.json` configHash) is refused, since splits of two worlds in one
// folder would share `world-config.json` and the image folder.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { STATS_SPLITS } from "../eval/world-benches.js";
import { buildSplit } from "../world/build.js";
import { configHash, loadWorldConfig, SPLIT_NAMES, type SplitName, type WorldConfig } from "../world/config.js";
import { readJsonIfExists } from "./atomic.js";
import type { ProgressReporter } from "./progress.js";
import type { EvalConfig } from "./recipe.js";

export class WorldMismatchError extends Error {
  override name = "WorldMismatchError";
}

const MetaSchema = z.object({ split: z.string(), configHash: z.string(), files: z.array(z.string()) });

/** The splits an evaluation reads: its split, plus the POPE statistics split for popular/adversarial. */
export function evalSplits(config: EvalConfig): SplitName[] {
  if (config.benches.length === 0) return [];
  const out: SplitName[] = [config.split];
  // Always the first statistics split, so the POPE questions never depend on which splits exist.
  if (config.benches.some((b) => b === "pope-popular" || b === "pope-adversarial")) out.push(STATS_SPLITS[0]);
  return out;
}

export interface WorldState {
  dir: string;
  config: WorldConfig;
  configHash: string;
  /** Splits built by this call. */
  built: SplitName[];
}

export interface EnsureWorldOptions {
  /** The world config YAML. */
  configPath: string;
  dir: string;
  splits: readonly SplitName[];
  reporter?: ProgressReporter;
  log?: (line: string) => void;
}

/** Checks every split already in `dir` against the config, then builds the missing ones of `splits`. */
export async function ensureWorld(options: EnsureWorldOptions): Promise<WorldState> {
  const { dir, configPath } = options;
  const config = loadWorldConfig(configPath);
  const hash = configHash(config);
  const present = new Set<SplitName>();
  if (existsSync(dir)) {
    for (const file of readdirSync(dir).sort()) {
      const m = /^(.+)\.meta\.json$/.exec(file);
      if (!m || !(SPLIT_NAMES as readonly string[]).includes(m[1])) continue;
      const path = join(dir, file);
      const meta = MetaSchema.safeParse(readJsonIfExists(path));
      if (!meta.success)
        throw new WorldMismatchError(`${path}: not a split's metadata; remove it to rebuild the split`);
      if (meta.data.configHash !== hash) {
        throw new WorldMismatchError(
          `world folder ${dir} holds split '${m[1]}' built from another world config (configHash ${meta.data.configHash.slice(0, 12)}... in ${path}; ${configPath} gives ${hash.slice(0, 12)}...); set world.dir to another folder, or remove ${dir} to rebuild it`,
        );
      }
      if (meta.data.files.every((f) => existsSync(join(dir, f)))) present.add(m[1] as SplitName);
    }
  }
  const built: SplitName[] = [];
  for (const split of [...new Set(options.splits)]) {
    if (present.has(split)) continue;
    options.log?.(`world: building split '${split}' into ${dir}`);
    let bar: ReturnType<ProgressReporter["start"]> | undefined;
    await buildSplit(config, {
      split,
      outDir: dir,
      onProgress: (done, total) => {
        bar ??= options.reporter?.start(`world ${split}`, total, 0, "img");
        bar?.update(done);
      },
    });
    bar?.done();
    built.push(split);
  }
  return { dir, config, configHash: hash, built };
}
