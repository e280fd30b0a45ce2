// The StageContext a stage kind runs with, and the run-once steps that make a stage resumable:
// a step's result is stored in `<stage>/steps/<name>.json` (atomically) when it finishes, and a
// rerun gets the stored result back without running the step again.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { VisionLanguageModel } from "../backends/types.js";
import type { ImageSourceSpec } from "../data/image-source.js";
import type { WorldConfig } from "../world/config.js";
import { readJsonIfExists, writeJsonAtomic } from "./atomic.js";
import type { ProgressReporter } from "./progress.js";
import { NAME_PATTERN } from "./recipe.js";
import type { ServedModel, StageContext, TrainElsewhere } from "./stage-kind.js";

interface StoredStep {
  step: string;
  seconds: number;
  result?: unknown;
}

/**
 * Runs `fn` once per `stepsDir/<name>.json`. The value returned is the JSON round trip of fn's
 * result, both the first time and on a rerun, so a stage sees the same value whether it resumed
 * or not (a Map or a Date would otherwise differ between the two).
 */
export async function runStep<T>(
  stepsDir: string,
  name: string,
  fn: () => T | Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  if (!NAME_PATTERN.test(name)) {
    throw new Error(`step name '${name}': use letters, digits, '.', '_' and '-' (it names a file)`);
  }
  const path = join(stepsDir, `${name}.json`);
  if (existsSync(path)) {
    const stored = readJsonIfExists<StoredStep>(path)!;
    return stored.result as T;
  }
  signal?.throwIfAborted();
  const t0 = performance.now();
  const result = await fn();
  const record: StoredStep = { step: name, seconds: (performance.now() - t0) / 1000 };
  if (result !== undefined) record.result = result;
  writeJsonAtomic(path, record);
  return result === undefined ? (undefined as T) : (JSON.parse(JSON.stringify(result)) as T);
}

export interface ContextInit {
  runDir: string;
  stageDir: string;
  name: string;
  seed: number;
  threads: number;
  profile: string | null;
  inputModel: string;
  world: { dir: string; config: WorldConfig } | null;
  images: ImageSourceSpec | null;
  dataOnly: boolean;
  servedInput: ServedModel | null;
  trainElsewhere: TrainElsewhere;
  runCommand: string;
  openModel(dir: string): Promise<VisionLanguageModel>;
  reporter: ProgressReporter;
  log(line: string): void;
  signal: AbortSignal;
}

export function makeStageContext(init: ContextInit): StageContext {
  const stepsDir = join(init.stageDir, "steps");
  return {
    runDir: init.runDir,
    stageDir: init.stageDir,
    name: init.name,
    seed: init.seed,
    threads: init.threads,
    profile: init.profile,
    inputModel: init.inputModel,
    world: init.world,
    images: init.images,
    dataOnly: init.dataOnly,
    servedInput: init.servedInput,
    trainElsewhere: init.trainElsewhere,
    runCommand: init.runCommand,
    openModel: init.openModel,
    step: (name, fn) => runStep(stepsDir, name, fn, init.signal),
    progress: (label, total, initial) => init.reporter.start(`${init.name}: ${label}`, total, initial),
    log: init.log,
    signal: init.signal,
  };
}
