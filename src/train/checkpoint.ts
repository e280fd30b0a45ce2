// Training checkpoints: `outputDir/checkpoint-<step>/` holding the trainable weights, the AdamW
// state and the trainer's position, enough to continue a run bit for bit. A checkpoint is built
// in a temporary directory and swapped into place (writeDirAtomicSync, src/util/atomic-dir.ts),
// so a directory named checkpoint-<step> is always complete; a kill mid-save leaves only a
// temporary directory that the next run removes.
//
//   trainable.safetensors   the optimizer's parameters, named as trainableParameters() names them
//   optimizer.safetensors   exp_avg/<name>, exp_avg_sq/<name>; metadata: step
//   trainer_state.json      TrainerState
//   (anything exportModel writes: config.json, model.safetensors, ... for a loadable model)
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AdamW, type Tensor, tidy } from "../engine/index.js";
import { fromEngine, type RawTensor, readSafetensors, toEngine, writeSafetensors } from "../models/safetensors.js";
import { isUnfinishedDir, writeDirAtomicSync } from "../util/atomic-dir.js";
import type { TrainConfig } from "./config.js";

export const WEIGHTS_FILE = "trainable.safetensors";
export const OPTIMIZER_FILE = "optimizer.safetensors";
export const STATE_FILE = "trainer_state.json";
const CHECKPOINT_RE = /^checkpoint-(\d+)$/;

export interface TrainerState {
  version: 1;
  /** Optimizer steps applied. */
  step: number;
  /** The epoch under way and how many of its (shuffled) examples were consumed. */
  epoch: number;
  position: number;
  /** Seed of the per-epoch shuffle. */
  seed: number;
  datasetSize: number;
  totalSteps: number;
  /** Wall-clock seconds of training before this checkpoint (so elapsed_s continues). */
  elapsedS: number;
  config: TrainConfig;
}

export class TrainCheckpointError extends Error {
  override name = "TrainCheckpointError";
}

/** The complete checkpoints under outputDir, oldest first. */
export function listCheckpoints(outputDir: string): { step: number; dir: string }[] {
  if (!existsSync(outputDir)) return [];
  return readdirSync(outputDir)
    .map((name) => ({ m: CHECKPOINT_RE.exec(name), name }))
    .filter(({ m, name }) => m !== null && existsSync(join(outputDir, name, STATE_FILE)))
    .map(({ m, name }) => ({ step: Number(m?.[1]), dir: join(outputDir, name) }))
    .sort((a, b) => a.step - b.step);
}

export function latestCheckpoint(outputDir: string): { step: number; dir: string } | null {
  return listCheckpoints(outputDir).at(-1) ?? null;
}

/**
 * Removes the temporary directories of saves that never finished: writeDirAtomicSync's, and the
 * `.tmp-checkpoint-*` ones that saves made before it, so that older runs still resume cleanly.
 */
export function removeUnfinishedSaves(outputDir: string): void {
  if (!existsSync(outputDir)) return;
  for (const name of readdirSync(outputDir)) {
    if (isUnfinishedDir(name) || name.startsWith(".tmp-checkpoint-")) {
      rmSync(join(outputDir, name), { recursive: true, force: true });
    }
  }
}

export interface SaveInput {
  params: Map<string, Tensor>;
  /** One AdamW per parameter group; together they hold every parameter once. */
  optimizers: { names: string[]; optimizer: AdamW }[];
  state: TrainerState;
  exportModel?: (dir: string) => void;
}

/** Writes checkpoint-<step> atomically and returns its path. */
export function saveTrainCheckpoint(outputDir: string, input: SaveInput): string {
  const final = join(outputDir, `checkpoint-${input.state.step}`);
  // An existing checkpoint-<step> (a rerun of the same step) is replaced, never merged.
  writeDirAtomicSync(final, (tmp) => {
    input.exportModel?.(tmp);
    writeSafetensors(join(tmp, WEIGHTS_FILE), rawMap(input.params));
    writeSafetensors(join(tmp, OPTIMIZER_FILE), optimizerTensors(input.optimizers), {
      step: String(input.state.step),
    });
    writeFileSync(join(tmp, STATE_FILE), `${JSON.stringify(input.state, null, 2)}\n`);
  });
  return final;
}

function rawMap(tensors: Map<string, Tensor>): Map<string, RawTensor> {
  return new Map([...tensors].map(([name, t]) => [name, fromEngine(t)]));
}

function optimizerTensors(groups: SaveInput["optimizers"]): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const { names, optimizer } of groups) {
    names.forEach((name, i) => {
      out.set(`exp_avg/${name}`, fromEngine(optimizer.expAvg[i]));
      out.set(`exp_avg_sq/${name}`, fromEngine(optimizer.expAvgSq[i]));
    });
  }
  return out;
}

/** Deletes the oldest checkpoints beyond `limit`, never the one named `keep`. */
export function pruneCheckpoints(outputDir: string, limit: number, keep: string): void {
  const all = listCheckpoints(outputDir).filter((c) => c.dir !== keep);
  const excess = all.length + 1 - limit;
  for (const c of all.slice(0, Math.max(0, excess))) rmSync(c.dir, { recursive: true, force: true });
}

/** Reads a checkpoint into the parameters and optimizers (in place) and returns its state. */
export function loadTrainCheckpoint(dir: string, input: Omit<SaveInput, "state" | "exportModel">): TrainerState {
  const statePath = join(dir, STATE_FILE);
  const state = JSON.parse(readFileSync(statePath, "utf8")) as TrainerState;
  if (state.version !== 1) throw new TrainCheckpointError(`${statePath}: unknown version ${state.version}`);
  const optPath = join(dir, OPTIMIZER_FILE);
  const opt = readSafetensors(optPath);
  if (Number(opt.metadata?.step) !== state.step) {
    throw new TrainCheckpointError(`${optPath}: step ${opt.metadata?.step}, but ${statePath} says ${state.step}`);
  }
  const moments = new Map<string, Tensor>();
  for (const { names, optimizer } of input.optimizers) {
    names.forEach((name, i) => {
      moments.set(`exp_avg/${name}`, optimizer.expAvg[i]);
      moments.set(`exp_avg_sq/${name}`, optimizer.expAvgSq[i]);
    });
  }
  const weightsPath = join(dir, WEIGHTS_FILE);
  const weights = readSafetensors(weightsPath).tensors;
  // Check both files whole before changing anything, so a bad checkpoint leaves the model as it was.
  // The tensors read are freed at the end of the scope (or on the first error).
  tidy(() => {
    const loads = [...pairUp(input.params, weights, weightsPath), ...pairUp(moments, opt.tensors, optPath)];
    for (const [target, source] of loads) target.assign(source);
  });
  for (const { optimizer } of input.optimizers) optimizer.step = state.step;
  return state;
}

/** Matches every target to the file's tensor of the same name and shape; anything else is an error. */
function pairUp(targets: Map<string, Tensor>, file: Map<string, RawTensor>, path: string): [Tensor, Tensor][] {
  const unknown = [...file.keys()].filter((k) => !targets.has(k));
  if (unknown.length > 0) throw new TrainCheckpointError(`${path}: unexpected tensors ${unknown.join(", ")}`);
  return [...targets].map(([name, target]) => {
    const raw = file.get(name);
    if (raw === undefined) throw new TrainCheckpointError(`${path}: missing tensor ${name}`);
    const source = toEngine(raw);
    if (source.shape.join(",") !== target.shape.join(",") || source.dtype !== target.dtype) {
      throw new TrainCheckpointError(
        `${path}: ${name} is ${source.dtype} [${source.shape}], the model's is ${target.dtype} [${target.shape}]`,
      );
    }
    return [target, source];
  });
}
