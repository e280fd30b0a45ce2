// The eval command's two choices, read from its flags: which model (an embedded checkpoint with
// --model, or OpenAI-compatible endpoints with --endpoint and --served-model) and where the
// benchmark's items come from (a built world with --data, a POPE question file with
// --questions, COCO annotations with --annotations). Each combination of flags that does not
// make sense is refused with the flags named, before anything is loaded.
import type { BackendSpec } from "../backends/index.js";
import { BENCH_NAMES, type BenchName, isBenchName } from "../eval/benches.js";
import { FILE_BENCH_NAMES } from "../eval/file-benches.js";
import { EVAL_SPLITS, type EvalSplit } from "../eval/world-benches.js";

/** Every name --bench takes: the world's benches, and "pope" (a question file). */
export const EVAL_BENCH_NAMES: readonly string[] = [...new Set<string>([...BENCH_NAMES, ...FILE_BENCH_NAMES])];

export class EvalFlagError extends Error {
  override name = "EvalFlagError";
}

export interface ModelFlags {
  model?: string;
  endpoint?: string[];
  servedModel?: string;
  apiKeyEnv?: string;
}

/** The backend the flags name: exactly one of --model DIR or --endpoint URL... with --served-model NAME. */
export function modelSpec(flags: ModelFlags, env: NodeJS.ProcessEnv = process.env): BackendSpec {
  const endpoints = flags.endpoint ?? [];
  if (flags.model !== undefined && endpoints.length > 0)
    throw new EvalFlagError("eval: give either --model DIR (an embedded checkpoint) or --endpoint URL, not both");
  if (flags.model !== undefined) {
    for (const flag of ["servedModel", "apiKeyEnv"] as const) {
      if (flags[flag] !== undefined)
        throw new EvalFlagError(`eval: ${flagName(flag)} goes with --endpoint, not with --model`);
    }
    return { kind: "embedded", modelDir: flags.model };
  }
  if (endpoints.length === 0)
    throw new EvalFlagError("eval: no model; give --model DIR, or --endpoint URL --served-model NAME");
  if (flags.servedModel === undefined || flags.servedModel === "")
    throw new EvalFlagError(
      `eval: --endpoint ${endpoints[0]} needs --served-model NAME (the model name the server lists)`,
    );
  return {
    kind: "openai",
    baseUrls: endpoints,
    model: flags.servedModel,
    ...(flags.apiKeyEnv === undefined ? {} : { apiKey: apiKeyFrom(flags.apiKeyEnv, env) }),
  };
}

/** The key in the named environment variable (never on the command line, where `ps` shows it). */
function apiKeyFrom(variable: string, env: NodeJS.ProcessEnv): string {
  const key = env[variable];
  if (key === undefined || key === "")
    throw new EvalFlagError(`eval: --api-key-env ${variable}: the environment variable ${variable} is not set`);
  return key;
}

export interface SourceFlags {
  bench: string;
  data?: string;
  split?: string;
  questions?: string;
  annotations?: string;
  captions?: string;
  images?: string;
  chairPrompt?: string;
  limit?: number;
}

/** Where a bench's items come from. `limit` lets a file source read only the images it will ask about. */
export type BenchSource =
  | { kind: "world"; name: BenchName; data?: string; split: EvalSplit }
  | { kind: "pope-file"; questions: string; images: string; limit?: number }
  | { kind: "coco-chair"; annotations: string; captions?: string; images: string; prompt?: string; limit?: number };

const FILE_FLAGS = ["questions", "annotations", "captions", "images", "chairPrompt"] as const;
const WORLD_FLAGS = ["data", "split"] as const;

function flagName(field: string): string {
  return `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Refuses any of `fields` that was given, saying which source it belongs to. */
function refuse(flags: SourceFlags, fields: readonly (keyof SourceFlags)[], why: string): void {
  const given = fields.filter((f) => flags[f] !== undefined);
  if (given.length > 0) throw new EvalFlagError(`eval: ${given.map(flagName).join(", ")} ${why}`);
}

function required(flags: SourceFlags, field: "questions" | "annotations" | "images", why: string): string {
  const value = flags[field];
  if (value === undefined) throw new EvalFlagError(`eval: --bench ${flags.bench} ${why} needs ${flagName(field)}`);
  return value;
}

export function benchSource(flags: SourceFlags): BenchSource {
  const { bench } = flags;
  if (bench === "pope") {
    refuse(flags, [...WORLD_FLAGS, "annotations", "captions", "chairPrompt"], "do not apply to --bench pope");
    return {
      kind: "pope-file",
      questions: required(flags, "questions", "(a POPE question file)"),
      images: required(flags, "images", "(the folder of the file's images)"),
      limit: flags.limit,
    };
  }
  if (bench === "chair" && flags.annotations !== undefined) {
    refuse(flags, [...WORLD_FLAGS, "questions"], "do not apply to CHAIR over COCO annotations");
    return {
      kind: "coco-chair",
      annotations: flags.annotations,
      captions: flags.captions,
      images: required(flags, "images", "over COCO annotations"),
      prompt: flags.chairPrompt,
      limit: flags.limit,
    };
  }
  if (!isBenchName(bench)) throw new EvalFlagError(`eval: unknown bench '${bench}' (${EVAL_BENCH_NAMES.join(", ")})`);
  const hint = bench === "chair" ? " (CHAIR over COCO takes --annotations FILE --images DIR)" : "";
  refuse(flags, FILE_FLAGS, `apply to standard files, not to the world bench '${bench}'${hint}`);
  const split = flags.split ?? "test";
  if (!(EVAL_SPLITS as readonly string[]).includes(split))
    throw new EvalFlagError(`eval: --split ${split}: expected ${EVAL_SPLITS.join(" or ")}`);
  return { kind: "world", name: bench, data: flags.data, split: split as EvalSplit };
}
