// Model checkpoints: a directory laid out as Hugging Face lays one out,
//
//   config.json         the model config, pretty-printed
//   model.safetensors   the weights, named as the model's parameters
//   tokenizer.json      optional, Hugging Face tokenizers format
//
// saveCheckpoint builds everything in a temp directory beside the target and swaps it into place
// (writeDirAtomicSync, src/util/atomic-dir.ts), so a crash leaves either the old checkpoint or
// the new one, never a mix.
// loadStateInto copies tensors into parameters only after checking every name, shape and dtype:
// a missing, unexpected or mismatched tensor is an error listing them all, never a silent skip.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { noGrad, type Tensor, tidy } from "../engine/index.js";
import { writeDirAtomicSync } from "../util/atomic-dir.js";
import {
  CheckpointError,
  checkRawTensor,
  engineDType,
  fromEngine,
  type RawTensor,
  readSafetensors,
  toEngine,
  writeFileAtomic,
  writeSafetensors,
} from "./safetensors.js";
import { Tokenizer } from "./tokenizer.js";

export const CONFIG_FILE = "config.json";
export const WEIGHTS_FILE = "model.safetensors";
export const TOKENIZER_FILE = "tokenizer.json";
/** The only files saveCheckpoint will replace: it never deletes what it did not write. */
const OWN_FILES = new Set([CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE]);

export interface CheckpointContents {
  config: object;
  tensors: Map<string, Tensor>;
  tokenizer?: Tokenizer;
  /** Stored as the safetensors header's `__metadata__`. */
  metadata?: Record<string, string>;
}

export interface LoadedCheckpoint {
  config: Record<string, unknown>;
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
  tokenizer?: Tokenizer;
}

/** Throws unless dir is absent, or a directory holding only checkpoint files we would rewrite. */
function checkReplaceable(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new CheckpointError(dir, "exists and is not a directory");
  const foreign = readdirSync(dir).filter((name) => !OWN_FILES.has(name));
  if (foreign.length > 0) {
    throw new CheckpointError(
      dir,
      `refusing to replace a directory that holds other files: ${foreign.sort().join(", ")}`,
    );
  }
}

function configBytes(config: object, dir: string): Buffer {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new CheckpointError(join(dir, CONFIG_FILE), "config must be a plain object");
  }
  try {
    return Buffer.from(`${JSON.stringify(config, null, 2)}\n`, "utf8");
  } catch (error) {
    throw new CheckpointError(join(dir, CONFIG_FILE), `config is not JSON-serializable (${(error as Error).message})`);
  }
}

/** Writes config.json, model.safetensors and (if given) tokenizer.json to dir, atomically. */
export function saveCheckpoint(dir: string, contents: CheckpointContents): void {
  const target = resolve(dir);
  checkReplaceable(target);
  // Everything that can fail on bad input fails here, before anything touches the disk.
  const config = configBytes(contents.config, target);
  const raw = new Map<string, RawTensor>();
  for (const [name, t] of contents.tensors) raw.set(name, fromEngine(t));
  writeDirAtomicSync(target, (temp) => {
    writeFileAtomic(join(temp, CONFIG_FILE), [config]);
    writeSafetensors(join(temp, WEIGHTS_FILE), raw, contents.metadata);
    contents.tokenizer?.save(join(temp, TOKENIZER_FILE));
  });
}

function readConfig(path: string): Record<string, unknown> {
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new CheckpointError(path, `cannot read config (${(error as Error).message})`);
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new CheckpointError(path, "config is not a JSON object");
  }
  return config as Record<string, unknown>;
}

/** Reads a checkpoint directory; the tensors stay on the host until loadStateInto copies them. */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CheckpointError(dir, "no such checkpoint directory");
  const config = readConfig(join(dir, CONFIG_FILE));
  const { tensors, metadata } = readSafetensors(join(dir, WEIGHTS_FILE));
  const tokenizerPath = join(dir, TOKENIZER_FILE);
  const tokenizer = existsSync(tokenizerPath) ? Tokenizer.load(tokenizerPath) : undefined;
  return tokenizer === undefined ? { config, tensors, metadata } : { config, tensors, metadata, tokenizer };
}

/** Every difference between the parameters and the tensors, as lines of an error message. */
function stateMismatches(params: Map<string, Tensor>, tensors: Map<string, RawTensor>, file: string): string[] {
  const sorted = (names: Iterable<string>) => [...names].sort();
  const missing = sorted(params.keys()).filter((name) => !tensors.has(name));
  const unexpected = sorted(tensors.keys()).filter((name) => !params.has(name));
  const mismatched: string[] = [];
  for (const name of sorted(params.keys())) {
    const raw = tensors.get(name);
    if (raw === undefined) continue;
    checkRawTensor(raw, file, name);
    const p = params.get(name) as Tensor;
    const sameShape = raw.shape.length === p.rank && raw.shape.every((d, i) => d === p.shape[i]);
    if (!sameShape || engineDType(raw.dtype) !== p.dtype) {
      mismatched.push(
        `${name}: checkpoint ${raw.dtype} [${raw.shape.join(", ")}], model ${p.dtype} [${p.shape.join(", ")}]`,
      );
    }
  }
  const lines: string[] = [];
  if (missing.length > 0) lines.push(`missing tensors (in the model, not in the file): ${missing.join(", ")}`);
  if (unexpected.length > 0) lines.push(`unexpected tensors (in the file, not in the model): ${unexpected.join(", ")}`);
  if (mismatched.length > 0) lines.push(`shape/dtype mismatches: ${mismatched.join("; ")}`);
  return lines;
}

/**
 * Copies each tensor into the parameter of the same name (in place, outside autograd), after
 * checking that the names, shapes and dtypes match exactly; file names the source in errors.
 */
export function loadStateInto(params: Map<string, Tensor>, tensors: Map<string, RawTensor>, file: string): void {
  const problems = stateMismatches(params, tensors, file);
  if (problems.length > 0) {
    throw new CheckpointError(file, `state does not match the model:\n  ${problems.join("\n  ")}`);
  }
  noGrad(() => {
    for (const [name, p] of params) {
      tidy(() => {
        p.assign(toEngine(tensors.get(name) as RawTensor, name));
      });
    }
  });
}
