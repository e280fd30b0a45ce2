// What a finished stage ships: `<out>/` holding the loadable model, train-info.json and
// metrics.jsonl, assembled in a temporary directory and swapped into place (writeDirAtomicSync,
// src/util/atomic-dir.ts).
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { getNumThreads, type Tensor, torchVersion } from "../../engine/index.js";
import type { ClipConfig } from "../../models/clip.js";
import type { VisionConfig } from "../../models/vision.js";
import type { VLMConfig } from "../../models/vlm.js";
import { writeDirAtomicSync } from "../../util/atomic-dir.js";
import { readMetrics } from "../metrics.js";
import { WorldDataError } from "../world-data.js";
import {
  countParams,
  duration,
  type PretrainResult,
  type Run,
  type StageTrainConfig,
  type TrainInfo,
} from "./common.js";

const FINAL_LOSS_STEPS = 100;
const SHIPPED_FILES = new Set([
  "config.json",
  "model.safetensors",
  "tokenizer.json",
  "train-info.json",
  "metrics.jsonl",
]);

export function trainInfo(
  run: Run,
  p: {
    seed: number;
    from: TrainInfo["from"];
    model: VLMConfig | ClipConfig | VisionConfig;
    params: Map<string, Tensor>;
    tc: StageTrainConfig;
    data: Record<string, number>;
  },
): TrainInfo {
  const metrics = readMetrics(join(run.workDir, "metrics.jsonl"));
  const last = metrics.at(-1);
  // Batches differ by kind (a batch of descriptions has a higher loss than one of short answers):
  // the final loss is the mean over the last FINAL_LOSS_STEPS steps, not the last window's.
  const tail = metrics.filter((m) => last !== undefined && m.step > last.step - FINAL_LOSS_STEPS);
  const finalLoss = tail.length > 0 ? tail.reduce((a, m) => a + m.loss, 0) / tail.length : null;
  const rates = metrics.map((m) => m.tokens_per_s).filter((r) => r > 0);
  const splits = Object.fromEntries(
    Object.entries(run.world.config.splits).map(([name, s]) => [name, s.scenes + s.creatures]),
  );
  return {
    stage: run.stage,
    command: run.command ?? defaultCommand(run),
    seed: p.seed,
    world: { dir: run.world.dir, configHash: run.world.configHash, seed: run.world.config.seed, splits },
    from: p.from,
    model: p.model,
    parameters: countParams(p.params),
    vocabSize: 0,
    train: {
      steps: p.tc.steps,
      batchSize: p.tc.batchSize,
      lr: p.tc.lr,
      warmupSteps: p.tc.warmupSteps,
      weightDecay: p.tc.weightDecay,
      schedule: p.tc.schedule,
      minLrRatio: p.tc.minLrRatio,
    },
    data: p.data,
    stepsDone: last?.step ?? 0,
    finalLoss,
    finalLossSteps: FINAL_LOSS_STEPS,
    tokensPerS: rates.length > 0 ? rates.reduce((a, b) => a + b, 0) / rates.length : null,
    trainTimeS: last?.elapsed_s ?? null,
    wallTimeS: (performance.now() - run.started) / 1000,
    threads: getNumThreads(),
    versions: { node: process.version, torch: torchVersion() },
    finishedAt: new Date().toISOString(),
  };
}

function defaultCommand(run: Run): string {
  const parts = ["selfsynth", "pretrain", run.stage, "--world", run.world.dir];
  if (run.from !== undefined) parts.push("--from", run.from);
  parts.push("--out", run.out);
  if (run.steps !== undefined) parts.push("--steps", String(run.steps));
  if (run.batchSize !== undefined) parts.push("--batch-size", String(run.batchSize));
  if (run.lr !== undefined) parts.push("--lr", String(run.lr));
  if (run.seed !== undefined) parts.push("--seed", String(run.seed));
  return parts.join(" ");
}

/** Reads `<dir>/train-info.json` when there is one. */
export function readTrainInfo(dir: string): TrainInfo | null {
  const path = join(dir, "train-info.json");
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as TrainInfo;
  } catch {
    return null;
  }
}

/** Refuses an output directory holding files that shipping it would delete. */
export function checkShippedDir(out: string): void {
  if (!existsSync(out)) return;
  const foreign = readdirSync(out).filter((f) => !SHIPPED_FILES.has(f));
  if (foreign.length > 0) {
    throw new WorldDataError(`refusing to replace ${out}: it holds other files (${foreign.sort().join(", ")})`);
  }
}

/** What a stage's model saver writes into the model's metadata. */
export type ShipMetadata = { stage: string; world_config_hash: string };

/**
 * A stage's end: when training ran to its last step, writes the model (with the stage and world
 * in its metadata), train-info.json and metrics.jsonl into a temporary directory and swaps it
 * into `out`; a stopped run ships nothing. Returns the stage's result either way.
 */
export function finishStage(
  run: Run,
  result: { step: number; stopped: boolean },
  info: TrainInfo,
  saveModel: (dir: string, metadata: ShipMetadata) => void,
): PretrainResult {
  if (!result.stopped)
    shipDir(run, (dir) => saveModel(dir, { stage: run.stage, world_config_hash: run.world.configHash }), info);
  return { out: run.out, workDir: run.workDir, steps: result.step, stopped: result.stopped, info };
}

function shipDir(run: Run, saveModel: (dir: string) => void, info: TrainInfo): void {
  writeDirAtomicSync(run.out, (tmp) => {
    saveModel(tmp);
    writeFileSync(join(tmp, "train-info.json"), `${JSON.stringify(info, null, 2)}\n`);
    const metrics = join(run.workDir, "metrics.jsonl");
    if (existsSync(metrics)) cpSync(metrics, join(tmp, "metrics.jsonl"));
    checkShippedDir(run.out);
  });
  run.log(`[${run.stage}] wrote ${run.out} (loss ${info.finalLoss?.toFixed(4)}, ${duration(info.wallTimeS)})`);
}
