// Evaluation of one round (a model) on the recipe's benches: each bench through the benchmark
// runner (src/eval/runner.ts), records and results in `<run>/eval/<round>/`. A bench whose result
// file is there with the expected item count is not run again; an interrupted one resumes from its
// partial records (the runner does that). The model is opened only when some bench has work left.
//
// describeFirst (STIC's "describe and respond", src/methods/stic/describe-then-answer.ts): the
// model first describes each image (greedy, the recipe's STIC prompt set's describe prompt), then
// answers with the description infused before the question. The records keep the bench's own
// prompt (greedy descriptions are the same on a rerun). CHAIR is asked plainly: its prompt is
// itself the description request.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { VisionLanguageModel } from "../backends/types.js";
import type { BenchName } from "../eval/benches.js";
import { type BenchResult, runBenchmark } from "../eval/runner.js";
import type { AnyBenchSpec, EvalItem, Metrics } from "../eval/types.js";
import type { EvalSplit } from "../eval/world-benches.js";
import { DescribeThenAnswer } from "../methods/stic/describe-then-answer.js";
import { sticPromptSet } from "../methods/stic/prompts.js";
import { readJsonIfExists } from "./atomic.js";
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
  let backend: VisionLanguageModel | undefined;
  let describer: DescribeThenAnswer | undefined;
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
      if (config.describeFirst && name !== "chair") {
        describer ??= new DescribeThenAnswer(backend, {
          prompt: sticPromptSet(config.describePromptSet).describe,
          maxTokens: config.describeMaxTokens,
        });
        model = describer;
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
    // Not describer.close(): it would close the backend a second time.
    await backend?.close();
  }
  return metrics;
}
