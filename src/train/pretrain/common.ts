// What the pretraining stages share: their defaults, a stage's options and result, the trainer
// config they derive, and the progress lines they log.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Tensor } from "../../engine/index.js";
import type { ClipConfig } from "../../models/clip.js";
import type { VisionConfig } from "../../models/vision.js";
import type { VLMConfig } from "../../models/vlm.js";
import type { CorpusOptions } from "../../world/corpus.js";
import { readWorldSplit } from "../../world/read-split.js";
import type { LossOutput, TrainerEvent } from "../trainer.js";
import { exampleTexts, instructionExamples, type WorldInfo } from "../world-data.js";

import type { Stage } from "./stages.js";

export { STAGES, type Stage } from "./stages.js";

/**
 * Defaults per stage, set for the budget of under an hour on 2 cores (scripts/make-assets.sh).
 * Measured 2026-12-02, 2 threads, the default world (64x64 images; the tower's 8x8 patches
 * merged 2x2 into 16 image tokens), the default models:
 *   vision   ~400 images/s: ~0.16 s per step of 64; 3,000 steps (8 min, ~8.7 epochs of 22k);
 *   aligned  with the tower frozen, ~0.3 s per step of 32 captions; 2,000 steps (10 min,
 *            ~2.9 epochs);
 *   language ~1.2 s per step of 32 corpus texts on 1 thread (2026-12-04, machine shared);
 *            1,200 steps (24 min, ~0.45 epoch of the 88k texts);
 *   base     ~0.32 s per step of 32 length-grouped examples; 4,000 steps (about 22 min,
 *            ~1.4 epochs of the ~90k instruction examples: 2,000 left the base guessing "yes",
 *            FINDINGS.md);
 *   scorer   ~0.36 s per step of 128 pairs; 1,000 steps (6 min).
 * Tokens count every non-padding position, the image tokens included. The calibration behind
 * the vision and base budgets is in README (Shipped models).
 */
export const STAGE_DEFAULTS: Record<Stage, StageDefaults> = {
  vision: { steps: 3000, batchSize: 64, lr: 1e-3, warmupSteps: 50, weightDecay: 0.01 },
  language: { steps: 1200, batchSize: 32, lr: 1e-3, warmupSteps: 100, weightDecay: 0.01 },
  aligned: { steps: 2000, batchSize: 32, lr: 1e-3, warmupSteps: 100, weightDecay: 0.01 },
  base: { steps: 4000, batchSize: 32, lr: 3e-4, warmupSteps: 50, weightDecay: 0.01 },
  scorer: { steps: 1000, batchSize: 128, lr: 1e-3, warmupSteps: 50, weightDecay: 0.01 },
};

export interface StageDefaults {
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
}

export interface PretrainOptions {
  stage: Stage;
  /** A built world directory (world-config.json, <split>.jsonl, images/). */
  world: string;
  /** The model directory to write. */
  out: string;
  /** Where checkpoints and the metrics go while training (default `<out>.work/`). */
  workDir?: string;
  /** base: the aligned model to start from; aligned: a language-stage model (optional). */
  from?: string;
  /** language: the text corpus's size and prior strength (src/world/corpus.ts; defaults DEFAULT_CORPUS). */
  corpus?: Partial<Pick<CorpusOptions, "scenes" | "creatures" | "partnerRate">>;
  /** aligned and scorer: a vision-stage model whose tower they start from. */
  visionFrom?: string;
  /**
   * aligned: the --vision-from tagger's per-patch heads the projector reads beside the tower's
   * features (VLMConfig.readout); default all of them, [] for the features alone.
   */
  readout?: string[];
  /** aligned and base: train the vision tower too (default: frozen when it came pretrained). */
  trainVision?: boolean;
  steps?: number;
  batchSize?: number;
  lr?: number;
  warmupSteps?: number;
  threads?: number;
  seed?: number;
  resume?: boolean;
  /** Checkpoint every this many steps (default 250; the last step always saves). */
  saveEvery?: number;
  /** Metrics line and progress line every this many steps (default 10). */
  logEvery?: number;
  /** Overrides of the model config (aligned: a partial VLMConfig, scorer: a partial ClipConfig). */
  modelConfig?: Record<string, unknown>;
  /** Recorded in train-info.json (the CLI passes its argv). */
  command?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface PretrainResult {
  out: string;
  workDir: string;
  steps: number;
  stopped: boolean;
  info: TrainInfo;
}

/** What a stage writes to `<out>/train-info.json` (ship.ts). */
export interface TrainInfo {
  stage: Stage;
  command: string;
  seed: number;
  world: { dir: string; configHash: string; seed: number; splits: Record<string, number> };
  from: { dir: string; configHash?: string } | null;
  /** vision: each head's accuracy on the validation split (taggerAccuracy), when it is built. */
  validation?: Record<string, number>;
  /** The vision-stage model the tower came from, and whether it stayed frozen. */
  vision?: { from: string | null; frozen: boolean };
  model: VLMConfig | ClipConfig | VisionConfig;
  parameters: number;
  vocabSize: number;
  train: {
    steps: number;
    batchSize: number;
    lr: number;
    warmupSteps: number;
    weightDecay: number;
    schedule: string;
    minLrRatio: number;
  };
  data: Record<string, number>;
  stepsDone: number;
  /** Mean training loss over the last finalLossSteps steps. */
  finalLoss: number | null;
  finalLossSteps: number;
  tokensPerS: number | null;
  trainTimeS: number | null;
  wallTimeS: number;
  threads: number;
  versions: { node: string; torch: string };
  finishedAt: string;
}

const MIN_LR_RATIO = 0.1;

/** A stage's options once pretrain() has resolved its paths and read its world. */
export type Run = Omit<PretrainOptions, "world" | "log"> & {
  out: string;
  workDir: string;
  log: (line: string) => void;
  world: WorldInfo;
  started: number;
};

export function stageTrainConfig(run: Run) {
  const d = STAGE_DEFAULTS[run.stage];
  const steps = run.steps ?? d.steps;
  return {
    steps,
    batchSize: run.batchSize ?? d.batchSize,
    lr: run.lr ?? d.lr,
    warmupSteps: Math.min(run.warmupSteps ?? d.warmupSteps, Math.floor(steps / 10)),
    weightDecay: d.weightDecay,
    schedule: "cosine" as const,
    minLrRatio: MIN_LR_RATIO,
  };
}

export type StageTrainConfig = ReturnType<typeof stageTrainConfig>;

export function trainerConfig(run: Run, tc: StageTrainConfig, seed: number, batchSize: number) {
  return {
    lr: tc.lr,
    warmupSteps: tc.warmupSteps,
    schedule: tc.schedule,
    minLrRatio: tc.minLrRatio,
    maxSteps: tc.steps,
    batchSize,
    weightDecay: tc.weightDecay,
    maxGradNorm: 1,
    seed,
    logEvery: run.logEvery ?? 10,
    saveEvery: run.saveEvery ?? 250,
    saveTotalLimit: 2,
    outputDir: run.workDir,
  };
}

/** Counts what the loss functions process, for the progress lines' rate. */
export class Throughput {
  units = 0;

  count(out: LossOutput): LossOutput {
    this.units += out.tokens ?? out.count;
    return out;
  }
}

/** A progress line every logEvery steps: loss, lr, rate since the last line, elapsed and ETA. */
export function progress(run: Run, meter: Throughput, unit = "tokens"): (e: TrainerEvent) => void {
  const every = run.logEvery ?? 10;
  let last = { t: performance.now(), units: 0 };
  let first: { t: number; step: number } | null = null; // where this process started stepping
  return (e) => {
    if (e.kind === "resume") {
      run.log(`[${run.stage}] resumed from ${e.dir} at step ${e.step}`);
      return;
    }
    if (e.kind === "checkpoint") return;
    const now = performance.now();
    first ??= { t: last.t, step: e.step - 1 };
    if (e.step % every !== 0 && e.step !== e.totalSteps) return;
    const rate = (meter.units - last.units) / ((now - last.t) / 1000);
    const perStep = (now - first.t) / 1000 / (e.step - first.step);
    run.log(
      `[${run.stage}] step ${e.step}/${e.totalSteps}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ` +
        `${Math.round(rate)} ${unit}/s  elapsed ${duration((now - run.started) / 1000)}  ` +
        `eta ${duration(perStep * (e.totalSteps - e.step))}`,
    );
    last = { t: now, units: meter.units };
  };
}

/** The instruction split's texts, when it is built (so aligned's tokenizer covers base's data). */
export function instructionTexts(world: WorldInfo, seed: number): string[] {
  if (!existsSync(join(world.dir, "instruction.jsonl"))) return [];
  return exampleTexts(instructionExamples(readWorldSplit(world.dir, "instruction"), seed));
}

export function countParams(params: Map<string, Tensor>): number {
  let n = 0;
  for (const t of params.values()) n += t.numel;
  return n;
}

export const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
