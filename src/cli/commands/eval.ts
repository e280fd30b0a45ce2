// `selfsynth eval (--model DIR | --endpoint URL --served-model NAME) --bench NAME ...`: runs one
// benchmark and prints its metrics; with --json the last line is {"bench": ..., "metrics": {...}}.
// The items come from a built world's split (--data, src/eval/world-benches.ts) or from standard
// files (POPE's --questions, COCO's --annotations, with --images; src/eval/file-benches.ts);
// eval-sources.ts reads the flags into both choices. The records and the result (with the
// generation settings) go to --out, items whose image could not be used to
// <bench>.skipped.jsonl. The registered inference modes add their flags (mode-options.ts; e.g.
// STIC's --describe-first).
import { type Command, Option } from "commander";
import type { BackendSpec } from "../../backends/index.js";
import type { VisionLanguageModel } from "../../backends/types.js";
import {
  COCO_CHAIR_PROMPT,
  loadCocoChair,
  loadPopeFile,
  type SkippedItem,
  skippedSummary,
  writeSkipped,
} from "../../eval/file-benches.js";
import { type BenchResult, runBenchmark } from "../../eval/runner.js";
import type { AnyBenchSpec, EvalItem, GenerationSettings } from "../../eval/types.js";
import { EVAL_SPLITS, loadWorldBench } from "../../eval/world-benches.js";
import type { SelectedMode } from "../../run/inference-mode.js";
import {
  type BenchSource,
  benchSource,
  EVAL_BENCH_NAMES,
  type ModelFlags,
  modelSpec,
  type SourceFlags,
} from "../eval-sources.js";
import { addModeOptions } from "../mode-options.js";
import { nonNegativeInt, nonNegativeNumber, positiveInt } from "../options.js";

/** A bench, its items, and the items left out for their images (file sources). */
export interface LoadedBench {
  bench: AnyBenchSpec;
  items: EvalItem[];
  skipped?: SkippedItem[];
}

/** How eval reaches a model and a benchmark's items; injected so that tests and the lead's glue can supply them. */
export interface EvalDeps {
  /** The model, checked to serve what an evaluation asks (an endpoint is probed at once). */
  openModel(spec: BackendSpec): Promise<VisionLanguageModel>;
  loadBench(source: BenchSource): Promise<LoadedBench>;
}

const defaults: EvalDeps = {
  async openModel(spec) {
    // Imported here so that loading the command does not load libtorch.
    const { openBackend } = await import("../../backends/index.js");
    return openBackend(spec, { images: 1 });
  },
  async loadBench(source) {
    switch (source.kind) {
      case "world":
        return loadWorldBench(source.name, source.data, { split: source.split });
      case "pope-file":
        return loadPopeFile(source);
      case "coco-chair":
        return loadCocoChair(source);
    }
  },
};

interface EvalOptions extends ModelFlags, SourceFlags {
  json?: boolean;
  out: string;
  threads?: number;
  batchSize: number;
  maxTokens?: number;
  temperature?: number;
  seed?: number;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerEval(program: Command, deps: Partial<EvalDeps> = {}): Command {
  const { openModel, loadBench } = { ...defaults, ...deps };
  const command = program
    .command("eval")
    .description("run a benchmark on a model; writes per-item records and the metrics with the generation settings")
    .option("--model <dir>", "embedded model checkpoint directory")
    .option("--endpoint <url>", "OpenAI-compatible base URL, e.g. http://host:8000/v1 (repeat to balance)", collect)
    .option("--served-model <name>", "the model name the endpoint serves (as GET /v1/models lists it)")
    .option("--api-key-env <var>", "environment variable holding the endpoint's API key")
    .addOption(new Option("--bench <name>", "benchmark").choices(EVAL_BENCH_NAMES).makeOptionMandatory())
    .option("--limit <n>", "score only the first n items", positiveInt)
    .option("--json", "print the result as JSON on the last line")
    .option("--data <dir>", "a built world's directory (selfsynth world build --out <dir>)")
    .addOption(
      new Option(
        "--split <name>",
        "the world split to read (default test; validation: calibrate without touching test)",
      ).choices(EVAL_SPLITS),
    )
    .option("--questions <file>", "pope: a POPE question file (JSON Lines: question_id, image, text, label)")
    .option("--annotations <file>", "chair: COCO instance annotations (images, annotations, categories)")
    .option("--captions <file>", "chair: COCO caption annotations whose objects join the truth (as chair.py)")
    .option("--images <dir>", "the folder the question or annotation file's image names are in")
    .option("--chair-prompt <text>", `chair over COCO: the describe request (default "${COCO_CHAIR_PROMPT}")`)
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
  // Both choices are read before anything loads: a wrong combination of flags costs nothing.
  const spec = modelSpec(options);
  const { bench, items, skipped = [] } = await deps.loadBench(benchSource(options));
  const skippedPath = writeSkipped(options.out, bench.name, skipped);
  if (skippedPath !== null)
    console.error(`${skippedSummary(bench.name, skipped, items.length + skipped.length)}: ${skippedPath}`);
  if (items.length === 0) throw new Error(`eval: no ${bench.name} item has a usable image`);
  if (options.threads !== undefined && spec.kind === "embedded") {
    const { setNumThreads } = await import("../../engine/index.js");
    setNumThreads(options.threads);
  }
  const generation: Partial<GenerationSettings> = {};
  if (options.maxTokens !== undefined) generation.maxTokens = options.maxTokens;
  if (options.temperature !== undefined) generation.temperature = options.temperature;
  if (options.seed !== undefined) generation.seed = options.seed;
  const opened = await deps.openModel(spec);
  const backend = mode?.asks(bench.name) ? mode.wrap(opened) : opened;
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
