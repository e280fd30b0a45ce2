// Evaluation of one round (a model) on the recipe's benches: each bench through the benchmark
// runner (src/eval/runner.ts), records and results in `<run>/eval/<round>/`. A bench whose result
// file is there with the expected item count is not run again; an interrupted one resumes from its
// partial records (the runner does that). The model is opened only when some bench has work left.
//
// An inference mode switched on in the eval block (inference-mode.ts; e.g. STIC's describeFirst)
// wraps the model for every bench it asks; the records keep the bench's own prompt.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { VisionLanguageModel } from "../backends/types.js";
import type { BenchName } from "../eval/benches.js";
import { type BenchResult, runBenchmark } from "../eval/runner.js";
import type { AnyBenchSpec, EvalItem, Metrics } from "../eval/types.js";
import type { EvalSplit } from "../eval/world-benches.js";
import { readJsonIfExists } from "./atomic.js";
import { selectedMode } from "./inference-mode.js";
import type { ProgressReporter } from "./progress.js";
import type { EvalConfig } from "./recipe.js";

export type LoadBench = (
  name: BenchName,
  worldDir: string,
  split: EvalSplit,
) => Promise<{ bench: AnyBenchSpec; items: EvalItem[] }>;

export interface EvaluateRoundOptions {
  round: string;
  model: string;
  /** `<run>/eval/<round>`. */
  outDir: string;
  config: EvalConfig;
  worldDir: string;
  openModel(dir: string): Promise<VisionLanguageModel>;
  loadBench: LoadBench;
  reporter?: ProgressReporter;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** The metrics of every bench of the round, keyed by bench name. */
export async function evaluateRound(options: EvaluateRoundOptions): Promise<Record<string, Metrics>> {
  const { config, outDir } = options;
  mkdirSync(outDir, { recursive: true });
  const metrics: Record<string, Metrics> = {};
  const mode = selectedMode(config);
  let backend: VisionLanguageModel | undefined;
  let wrapped: VisionLanguageModel | undefined;
  try {
    for (const name of config.benches) {
      options.signal?.throwIfAborted();
      const { bench, items } = await options.loadBench(name, options.worldDir, config.split);
      const expected = config.limit === undefined ? items.length : Math.min(config.limit, items.length);
      const stored = readJsonIfExists<BenchResult>(join(outDir, `${bench.name}.json`));
      if (stored !== undefined && stored.n === expected) {
        metrics[name] = stored.metrics;
        continue;
      }
      if (backend === undefined) {
        options.log?.(`eval ${options.round}: opening ${options.model}`);
        backend = await options.openModel(options.model);
      }
      let model = backend;
      if (mode?.asks(name)) {
        // One wrapper for the round: a mode may keep state across benches (describe-then-answer's cache).
        wrapped ??= mode.wrap(backend);
        model = wrapped;
      }
      let bar: ReturnType<ProgressReporter["start"]> | undefined;
      const result = await runBenchmark({
        backend: model,
        bench,
        items,
        limit: config.limit,
        batchSize: config.batchSize,
        outDir,
        onProgress: (done, total) => {
          options.signal?.throwIfAborted();
          bar ??= options.reporter?.start(`eval ${options.round} ${name}`, total, done);
          bar?.update(done);
        },
      });
      bar?.done();
      metrics[name] = result.metrics;
    }
  } finally {
    await backend?.close();
  }
  return metrics;
}
