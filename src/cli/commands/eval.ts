// `selfsynth eval --model <dir> --bench <name> --data <world dir> [--split test|validation]
// [--limit N] [--json]`: runs one benchmark on a built world's split (src/eval/world-benches.ts)
// and prints its metrics; with --json the last line is {"bench": ..., "metrics": {...}}.
// The records and the result (with the generation settings) go to --out. The registered
// inference modes add their flags (mode-options.ts; e.g. STIC's --describe-first).
import { type Command, Option } from "commander";
import type { VisionLanguageModel } from "../../backends/types.js";
import { BENCH_NAMES, type BenchName } from "../../eval/benches.js";
import { type BenchResult, runBenchmark } from "../../eval/runner.js";
import type { AnyBenchSpec, EvalItem, GenerationSettings } from "../../eval/types.js";
import { EVAL_SPLITS, type EvalSplit, loadWorldBench } from "../../eval/world-benches.js";
import type { SelectedMode } from "../../run/inference-mode.js";
import { addModeOptions } from "../mode-options.js";
import { nonNegativeInt, nonNegativeNumber, positiveInt } from "../options.js";

/** How eval reaches a model and a benchmark's items; injected so that tests and the lead's glue can supply them. */
export interface EvalDeps {
  openModel(modelDir: string): Promise<VisionLanguageModel>;
  /** The bench spec and its items from a split (default test) of the world built at `dataDir`. */
  loadBench(
    name: BenchName,
    dataDir: string | undefined,
    split?: EvalSplit,
  ): Promise<{ bench: AnyBenchSpec; items: EvalItem[] }>;
}

const defaults: EvalDeps = {
  async openModel(modelDir) {
    // Imported here so that loading the command does not load libtorch.
    const { createBackend } = await import("../../backends/index.js");
    return createBackend({ kind: "embedded", modelDir });
  },
  async loadBench(name, dataDir, split = "test") {
    const { bench, items } = loadWorldBench(name, dataDir, { split });
    return { bench, items };
  },
};

interface EvalOptions {
  model: string;
  bench: BenchName;
  limit?: number;
  json?: boolean;
  data?: string;
  split: EvalSplit;
  out: string;
  threads?: number;
  batchSize: number;
  maxTokens?: number;
  temperature?: number;
  seed?: number;
}

export function registerEval(program: Command, deps: Partial<EvalDeps> = {}): Command {
  const { openModel, loadBench } = { ...defaults, ...deps };
  const command = program
    .command("eval")
    .description("run a benchmark on a model; writes per-item records and the metrics with the generation settings")
    .requiredOption("--model <dir>", "model checkpoint directory")
    .addOption(new Option("--bench <name>", "benchmark").choices(BENCH_NAMES).makeOptionMandatory())
    .option("--limit <n>", "score only the first n items", positiveInt)
    .option("--json", "print the result as JSON on the last line")
    .option("--data <dir>", "a built world's directory (selfsynth world build --out <dir>)")
    .addOption(
      new Option("--split <name>", "the world split to read (validation: calibrate without touching test)")
        .choices(EVAL_SPLITS)
        .default("test"),
    )
    .option("--out <dir>", "where records and results go", "runs/eval")
    .option("--batch-size <n>", "items per backend call", positiveInt, 8)
    .option("--max-tokens <n>", "override the bench's max tokens", positiveInt)
    .option("--temperature <t>", "override the bench's temperature (0 = greedy)", nonNegativeNumber)
    .option("--seed <n>", "override the bench's seed", nonNegativeInt)
    .option("--threads <n>", "libtorch threads (embedded model)", positiveInt);
  const readMode = addModeOptions(command);
  return command.action(async (options: EvalOptions & Record<string, unknown>) => {
    const result = await runEval(options, { openModel, loadBench }, readMode(options));
    printResult(result, options.json === true);
  });
}

export async function runEval(options: EvalOptions, deps: EvalDeps, mode: SelectedMode | null): Promise<BenchResult> {
  const { bench, items } = await deps.loadBench(options.bench, options.data, options.split);
  if (options.threads !== undefined) {
    const { setNumThreads } = await import("../../engine/index.js");
    setNumThreads(options.threads);
  }
  const generation: Partial<GenerationSettings> = {};
  if (options.maxTokens !== undefined) generation.maxTokens = options.maxTokens;
  if (options.temperature !== undefined) generation.temperature = options.temperature;
  if (options.seed !== undefined) generation.seed = options.seed;
  const opened = await deps.openModel(options.model);
  const backend = mode?.asks(options.bench) ? mode.wrap(opened) : opened;
  const tty = process.stderr.isTTY === true;
  try {
    return await runBenchmark({
      backend,
      bench,
      items,
      limit: options.limit,
      generation,
      batchSize: options.batchSize,
      outDir: options.out,
      onProgress: tty ? (done, total) => process.stderr.write(`\r${bench.name} ${done}/${total}`) : undefined,
    });
  } finally {
    if (tty) process.stderr.write("\n");
    await opened.close();
  }
}

function printResult(result: BenchResult, json: boolean): void {
  if (json) {
    console.log(JSON.stringify({ bench: result.bench, metrics: result.metrics }));
    return;
  }
  console.log(`${result.bench} on ${result.model}: ${result.n} items (records: ${result.recordsPath})`);
  for (const [name, value] of Object.entries(result.metrics)) {
    const better = result.higherIsBetter[name];
    const arrow = better === true ? " (higher is better)" : better === false ? " (lower is better)" : "";
    if (typeof value === "number") console.log(`  ${name.padEnd(18)} ${value.toFixed(4)}${arrow}`);
    else console.log(`  ${name}${arrow}: ${JSON.stringify(value)}`);
  }
  const g = result.generation;
  console.log(`  generation: max_tokens ${g.maxTokens}, temperature ${g.temperature}, seed ${g.seed}`);
}
