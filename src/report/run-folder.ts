// What the report reads of a run folder (src/run/runner.ts writes it): report.json's rounds and
// comparison, the manifest and the resolved config (shown as they are), and per stage its
// stage.json, its steps' timings and results, its training metrics and its data folder. Each
// file is checked for the fields the report uses; a missing or malformed one that the report
// needs is an error naming the file, and the optional ones (a stage not yet run) are left out.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { Comparison } from "../eval/comparison.js";
import type { Metrics } from "../eval/types.js";
import { type MetricsRecord, readMetrics } from "../train/metrics.js";

export class ReportInputError extends Error {
  override name = "ReportInputError";
}

const RowSchema = z.looseObject({
  round: z.string(),
  bench: z.string(),
  metric: z.string(),
  mean: z.number(),
  sd: z.number().nullable(),
  diff: z.number().nullable(),
  ci: z.tuple([z.number(), z.number()]).nullable(),
  verdict: z.enum(["better", "worse", "changed", "no detectable difference", "baseline"]),
  gapClosed: z.number().nullable().optional(),
});

const ReportSchema = z.object({
  rounds: z.array(
    z.object({
      name: z.string().min(1),
      model: z.string().optional(),
      metrics: z.record(z.string(), z.record(z.string(), z.unknown())),
    }),
  ),
  comparison: z.object({ baseline: z.string(), rows: z.array(RowSchema) }).optional(),
});

/** The parts of config.resolved.json the report reads; the whole is kept for the manifest section. */
const ConfigSchema = z.looseObject({
  name: z.string(),
  profile: z.string().nullable().optional(),
  seed: z.number(),
  // Absent in a run over the user's images (`images:`): no scene truth to mark mentions with.
  world: z.looseObject({ dir: z.string() }).optional(),
  eval: z.looseObject({ split: z.string().optional() }).optional(),
  stages: z.array(z.looseObject({ name: z.string(), type: z.string() })),
});

const StageDoneSchema = z.looseObject({ seconds: z.number(), finishedAt: z.string().optional() });
// A step that returned nothing is stored without `result` (runStep).
const StepSchema = z.looseObject({ step: z.string(), seconds: z.number(), result: z.unknown().optional() });

export interface StageFolder {
  name: string;
  type: string;
  /** Null while the stage has not finished. */
  seconds: number | null;
  steps: { step: string; seconds: number; result?: unknown }[];
  /** One line per training step (empty for a stage that does not train). */
  training: MetricsRecord[];
  /** `stages/<name>/data` when the stage wrote a dataset. */
  dataDir: string | null;
}

export interface RunFolder {
  dir: string;
  rounds: { name: string; model?: string; metrics: Record<string, Metrics> }[];
  /** Every round against the base round, as the runner computed it (the figures of `selfsynth compare`). */
  comparison?: Comparison;
  config: z.infer<typeof ConfigSchema>;
  /** manifest.json as written (versions, seeds, hashes, times); null when missing. */
  manifest: Record<string, unknown> | null;
  stages: StageFolder[];
}

function readJson<T>(path: string, schema: z.ZodType<T>, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ReportInputError(`${path}: cannot read ${what}: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ReportInputError(`${path}: not ${what}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Reads a run folder; one without report.json or config.resolved.json is refused, naming it. */
export function readRunFolder(dir: string): RunFolder {
  const reportPath = join(dir, "report.json");
  const configPath = join(dir, "config.resolved.json");
  for (const path of [reportPath, configPath]) {
    if (!existsSync(path)) throw new ReportInputError(`${dir}: no ${path} (not a run folder, or one never evaluated)`);
  }
  const report = readJson(reportPath, ReportSchema, "a run report");
  const config = readJson(configPath, ConfigSchema, "a resolved recipe");
  const manifestPath = join(dir, "manifest.json");
  const manifest = existsSync(manifestPath)
    ? readJson(manifestPath, z.record(z.string(), z.unknown()), "a run manifest")
    : null;
  return {
    dir,
    rounds: report.rounds.map((r) => ({ ...r, metrics: r.metrics as Record<string, Metrics> })),
    comparison: report.comparison,
    config,
    manifest,
    stages: config.stages.map((s) => readStageFolder(join(dir, "stages", s.name), s.name, s.type)),
  };
}

function readStageFolder(stageDir: string, name: string, type: string): StageFolder {
  const donePath = join(stageDir, "stage.json");
  const done = existsSync(donePath) ? readJson(donePath, StageDoneSchema, "a stage result") : null;
  const stepsDir = join(stageDir, "steps");
  const steps = existsSync(stepsDir)
    ? readdirSync(stepsDir)
        .filter((f) => f.endsWith(".json"))
        .sort()
        .map((f) => readJson(join(stepsDir, f), StepSchema, "a finished step"))
    : [];
  const dataDir = join(stageDir, "data");
  return {
    name,
    type,
    seconds: done?.seconds ?? null,
    steps,
    training: readMetrics(join(stageDir, "train", "metrics.jsonl")),
    dataDir: existsSync(dataDir) ? dataDir : null,
  };
}
