// runRecipe: one run of a recipe, resumable at any point. The run folder holds
//
//   config.resolved.json   the validated recipe (profile merged, overrides applied)
//   manifest.json          versions, seeds, sha256 of the recipe, the input model and (at the end) the outputs
//   run.log                every log line, appended
//   stages/<name>/         what the stage writes; steps/<step>.json per finished step; stage.json when done
//   eval/<round>/          per bench: records and results (src/eval/runner.ts)
//   report.html            the report page (src/report/build.ts), written when the run finishes
//   report.json            {"rounds": [{"name": "base", "model": ..., "metrics": {"<bench>": {...}}}, ...],
//                           "comparison": {"baseline": "base", "rows": [...]}}  (src/eval/comparison.ts)
//
// Order: check the config against a stored one, hash the input model, make sure the world splits
// exist, evaluate the base model, then each stage in turn (skipped when its stage.json is there),
// evaluating its output model when it asks for it; the report is rewritten after every round.
import { appendFileSync, existsSync, mkdirSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { BackendNeeds, BackendSpec } from "../backends/index.js";
import type { VisionLanguageModel } from "../backends/types.js";
import { checkImageSource, describeImageSource } from "../data/image-source.js";
import type { Comparison } from "../eval/comparison.js";
import type { AnyBenchSpec, Metrics } from "../eval/types.js";
import { loadWorldBench } from "../eval/world-benches.js";
import { writeReport } from "../report/build.js";
import type { SplitName } from "../world/config.js";
import { hashFiles, readJsonIfExists, writeJsonAtomic } from "./atomic.js";
import { compareWithBase, worldBenchSpec } from "./compare-runs.js";
import { makeStageContext } from "./context.js";
import { evaluateRound, type LoadBench } from "./eval.js";
import { lockRun } from "./lock.js";
import { checkSameConfig, checkSameInputs, type Manifest, selfsynthVersion } from "./manifest.js";
import { checkStagesOverEndpoint, endpointOf, endpointSpec, modelLabel, runNeeds } from "./model-source.js";
import { ProgressReporter } from "./progress.js";
import { BASE_ROUND, defaultRunDir, loadRecipe, type Recipe, stageSeed } from "./recipe.js";
import { getStageKind, type StageConfig, type StageResult, stageNeeds } from "./stage-kind.js";
import { ensureWorld, evalSplits, type WorldState } from "./world.js";

export interface Round {
  name: string;
  model: string;
  metrics: Record<string, Metrics>;
}

export interface Report {
  rounds: Round[];
  /**
   * Every round against the base round, from the per-item records: the paired bootstrap
   * interval of each difference and its verdict (src/eval/comparison.ts); the rows
   * `selfsynth compare <run> --json` prints.
   */
  comparison?: Comparison;
}

/** What the runner reaches outside itself; tests replace these. */
export interface RunDeps {
  openModel(dir: string): Promise<VisionLanguageModel>;
  /** A served model's backend; with `needs`, checked now to serve them (probing the endpoints). */
  openEndpoint(spec: BackendSpec & { kind: "openai" }, needs?: BackendNeeds): Promise<VisionLanguageModel>;
  loadBench: LoadBench;
  /** libtorch's version and thread setting (imported lazily: loading the engine loads libtorch). */
  engine(): Promise<{ torchVersion(): string; setNumThreads(n: number): void }>;
  reporter: ProgressReporter;
}

function defaultDeps(): RunDeps {
  return {
    async openModel(dir) {
      const { createBackend } = await import("../backends/index.js");
      return createBackend({ kind: "embedded", modelDir: dir });
    },
    async openEndpoint(spec, needs) {
      const { createBackend, openBackend } = await import("../backends/index.js");
      return needs === undefined ? createBackend(spec) : openBackend(spec, needs);
    },
    async loadBench(name, worldDir, split) {
      const { bench, items } = loadWorldBench(name, worldDir, { split });
      return { bench, items };
    },
    engine: () => import("../engine/index.js"),
    reporter: new ProgressReporter({ tty: process.stderr.isTTY === true, write: (t) => process.stderr.write(t) }),
  };
}

export interface RunRecipeOptions {
  recipePath: string;
  /** The run folder (default runs/<name>[-<profile>]-seed<seed>). */
  out?: string;
  seed?: number;
  profile?: string;
  threads?: number;
  signal?: AbortSignal;
  deps?: Partial<RunDeps>;
}

export interface RunOutcome {
  runDir: string;
  report: Report;
}

interface StoredStage extends StageResult {
  name: string;
  type: string;
  seed: number;
  seconds: number;
  finishedAt: string;
}

/** Runs (or resumes) a recipe; resolves with the run folder and the report. */
export async function runRecipe(options: RunRecipeOptions): Promise<RunOutcome> {
  const deps: RunDeps = { ...defaultDeps(), ...options.deps };
  const signal = options.signal ?? new AbortController().signal;
  const { recipe, sha256 } = loadRecipe(options.recipePath, options);
  const runDir = options.out ?? defaultRunDir(recipe);
  mkdirSync(runDir, { recursive: true });
  const unlock = lockRun(runDir);
  try {
    return await run(recipe, sha256, runDir, options.recipePath, deps, signal);
  } finally {
    unlock();
  }
}

/** What every part of one run shares. */
interface RunState {
  recipe: Recipe;
  runDir: string;
  deps: RunDeps;
  /** Opens a model a stage or an evaluation names: a folder, or the recipe's endpoint by its label. */
  openModel(model: string): Promise<VisionLanguageModel>;
  /** The recipe's endpoint model's label, or null. */
  endpoint: string | null;
  signal: AbortSignal;
  log(line: string): void;
}

async function run(
  recipe: Recipe,
  recipeSha: string,
  runDir: string,
  recipePath: string,
  deps: RunDeps,
  signal: AbortSignal,
): Promise<RunOutcome> {
  const logPath = join(runDir, "run.log");
  const log = (line: string) => {
    deps.reporter.log(line);
    appendFileSync(logPath, `${new Date().toISOString()} ${line}\n`);
  };
  const endpoint = endpointOf(recipe.model);
  const spec = endpoint === null ? null : endpointSpec(endpoint, recipePath);
  const label = endpoint === null ? null : modelLabel(recipe.model);
  const openModel = (model: string) =>
    spec !== null && model === label ? deps.openEndpoint(spec) : deps.openModel(model);
  const state: RunState = { recipe, runDir, deps, openModel, endpoint: label, signal, log };
  const { manifest, world } = await prepare(state, recipePath, recipeSha);

  const report: Report = { rounds: [] };
  const loadBench = cachedLoadBench(deps.loadBench);
  // The specs that computed the metrics compute the comparison too.
  const specs = new Map<string, AnyBenchSpec>();
  const evaluate = async (name: string, model: string) => {
    if (recipe.eval.benches.length === 0) return;
    const metrics = await evaluateRound({
      round: name,
      model,
      outDir: join(runDir, "eval", name),
      config: recipe.eval,
      worldDir: worldDir(recipe),
      openModel,
      loadBench,
      reporter: deps.reporter,
      log,
      signal,
    });
    report.rounds.push({ name, model, metrics });
    for (const b of recipe.eval.benches) specs.set(b, (await loadBench(b, worldDir(recipe), recipe.eval.split)).bench);
    report.comparison = compareWithBase(runDir, report, (b) => specs.get(b) ?? worldBenchSpec(b));
    writeJsonAtomic(join(runDir, "report.json"), report);
  };

  await evaluate(BASE_ROUND, modelLabel(recipe.model));
  let model = modelLabel(recipe.model);
  const results: StoredStage[] = [];
  for (const config of recipe.stages) {
    signal.throwIfAborted();
    const stored = await runStage(state, config, model, world);
    results.push(stored);
    model = stored.model === label ? stored.model : loadedPath(runDir, stored.model);
    if (config.evaluate ?? stored.evaluate) await evaluate(config.name, model);
  }

  for (const s of results) {
    manifest.stages[s.name] = { type: s.type, model: s.model, files: hashFiles(join(runDir, "stages", s.name)) };
  }
  manifest.finishedAt = new Date().toISOString();
  writeJsonAtomic(join(runDir, "manifest.json"), manifest);
  writeJsonAtomic(join(runDir, "report.json"), report);
  writeReportPage(runDir, report, log);
  log(`run ${runDir}: finished`);
  return { runDir, report };
}

/**
 * Before any stage: the config against a stored one, the input model's hashes against the stored
 * manifest, the world splits every stage and the evaluation need, threads; writes the manifest.
 */
async function prepare(
  state: RunState,
  recipePath: string,
  recipeSha: string,
): Promise<{ manifest: Manifest; world: WorldState | null }> {
  const { recipe, runDir, deps, log } = state;
  const configPath = join(runDir, "config.resolved.json");
  const storedConfig = readJsonIfExists(configPath);
  if (storedConfig !== undefined) checkSameConfig(runDir, storedConfig, recipe);
  else writeJsonAtomic(configPath, recipe);

  const manifestPath = join(runDir, "manifest.json");
  const storedManifest = readJsonIfExists<Manifest>(manifestPath);
  const endpoint = endpointOf(recipe.model);
  let inputModel: Manifest["inputs"]["model"];
  if (endpoint === null) {
    const dir = recipe.model as string;
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new Error(`${recipePath}: model: '${dir}' is not a model folder`);
    }
    const modelFiles = hashFiles(dir);
    checkSameInputs(runDir, storedManifest, modelFiles);
    inputModel = { dir, files: modelFiles };
  } else {
    // Before any stage: a stage that would train the endpoint, then the images, then the endpoint itself.
    checkStagesOverEndpoint(recipe.stages, endpoint, recipePath);
    inputModel = { endpoint: { baseUrls: endpoint.baseUrls, model: endpoint.model } };
  }
  if (recipe.images !== undefined) {
    const n = await checkImageSource(recipe.images);
    log(`images: ${describeImageSource(recipe.images)} lists ${n} images`);
  }
  if (endpoint !== null) {
    const needs = runNeeds(recipe);
    const backend = await deps.openEndpoint(endpointSpec(endpoint, recipePath), needs);
    await backend.close();
    log(`model: ${endpoint.model} at ${endpoint.baseUrls.join(", ")} serves ${describeNeeds(needs)}`);
  }

  let world: WorldState | null = null;
  if (recipe.world !== undefined) {
    const splits = new Set<SplitName>(evalSplits(recipe.eval));
    for (const s of recipe.stages) for (const split of worldSplits(recipe, s)) splits.add(split);
    world = await ensureWorld({
      configPath: recipe.world.config,
      dir: recipe.world.dir,
      splits: [...splits],
      reporter: deps.reporter,
      log,
    });
  }

  const engine = await deps.engine();
  engine.setNumThreads(recipe.threads);
  const manifest: Manifest = {
    selfsynth: selfsynthVersion(),
    libtorch: engine.torchVersion(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    recipe: { path: recipePath, sha256: recipeSha },
    profile: recipe.profile,
    seed: recipe.seed,
    threads: recipe.threads,
    stageSeeds: Object.fromEntries(recipe.stages.map((s) => [s.name, stageSeed(recipe.seed, s.name)])),
    world:
      recipe.world === undefined || world === null
        ? null
        : { config: recipe.world.config, dir: recipe.world.dir, configHash: world.configHash },
    ...(recipe.images === undefined ? {} : { images: recipe.images }),
    inputs: { model: inputModel },
    stages: {},
    startedAt: storedManifest?.startedAt ?? new Date().toISOString(),
    finishedAt: null,
  };
  writeJsonAtomic(manifestPath, manifest);
  log(`run ${runDir}: ${recipe.name}${recipe.profile ? ` (profile ${recipe.profile})` : ""}, seed ${recipe.seed}`);
  return { manifest, world };
}

/**
 * report.html beside report.json (src/report). The run's work is done and saved by now: a page
 * that cannot be made (a library missing, an unreadable file) is logged, never a failed run.
 */
function writeReportPage(runDir: string, report: Report, log: (line: string) => void): void {
  const path = join(runDir, "report.html");
  try {
    writeReport(path, { runDirs: [runDir], comparison: report.comparison });
    log(`run ${runDir}: report ${path}`);
  } catch (error) {
    log(`run ${runDir}: report.html not written: ${(error as Error).message}`);
  }
}

/** Runs one stage from `model`, or reads its stage.json when it finished earlier. */
async function runStage(
  state: RunState,
  config: StageConfig,
  model: string,
  world: WorldState | null,
): Promise<StoredStage> {
  const { recipe, runDir, deps, signal, log } = state;
  const stageDir = join(runDir, "stages", config.name);
  const donePath = join(stageDir, "stage.json");
  const done = readJsonIfExists<StoredStage>(donePath);
  if (done !== undefined) {
    log(`stage ${config.name}: finished earlier, skipped`);
    return done;
  }
  mkdirSync(stageDir, { recursive: true });
  const seed = stageSeed(recipe.seed, config.name);
  log(`stage ${config.name} (${config.type}, seed ${seed}): from ${model}`);
  const ctx = makeStageContext({
    runDir,
    stageDir,
    name: config.name,
    seed,
    threads: recipe.threads,
    profile: recipe.profile,
    inputModel: model,
    world: recipe.world === undefined || world === null ? null : { dir: recipe.world.dir, config: world.config },
    images: recipe.images ?? null,
    dataOnly: config.dataOnly === true,
    openModel: state.openModel,
    reporter: deps.reporter,
    log: (line) => log(`[${config.name}] ${line}`),
    signal,
  });
  const t0 = performance.now();
  const result = await getStageKind(config.type).run(ctx, config);
  const stored: StoredStage = {
    name: config.name,
    type: config.type,
    seed,
    model: result.model === state.endpoint ? result.model : storedPath(runDir, result.model),
    evaluate: result.evaluate,
    seconds: (performance.now() - t0) / 1000,
    finishedAt: new Date().toISOString(),
  };
  writeJsonAtomic(donePath, stored);
  log(`stage ${config.name}: done in ${stored.seconds.toFixed(1)} s, model ${result.model}`);
  return stored;
}

/** The recipe's world folder (only asked for when benches run, which the recipe schema ties to a world). */
function worldDir(recipe: Recipe): string {
  if (recipe.world === undefined) throw new Error("the recipe names no world: to evaluate on");
  return recipe.world.dir;
}

/** The world splits a stage reads: its kind's, less the pool when the recipe's images: give it. */
function worldSplits(recipe: Recipe, config: StageConfig): SplitName[] {
  const splits = getStageKind(config.type).needsSplits?.(config) ?? [];
  const fromImages = recipe.images !== undefined && stageNeeds(config).poolImages === true;
  return fromImages ? splits.filter((s) => s !== "pool") : splits;
}

function describeNeeds(needs: BackendNeeds): string {
  const parts = ["generation"];
  if ((needs.images ?? 0) > 0) parts.push(`${needs.images} image(s) per request`);
  if (needs.scoring === true) parts.push("teacher-forced scoring");
  if (needs.generationLogprobs === true) parts.push("per-token log-probs");
  return parts.join(", ");
}

/** A model path as stage.json keeps it: relative to the run folder when inside it (so the folder can move). */
function storedPath(runDir: string, path: string): string {
  const rel = relative(resolve(runDir), resolve(path));
  return rel === "" || rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel)
    ? resolve(path)
    : `./${rel.split(sep).join("/")}`;
}

function loadedPath(runDir: string, stored: string): string {
  return stored.startsWith("./") ? join(runDir, stored.slice(2)) : stored;
}

/** Items of a bench are read once per run and shared by every round. */
function cachedLoadBench(load: LoadBench): LoadBench {
  const memo = new Map<string, ReturnType<LoadBench>>();
  return (name, worldDir, split) => {
    const key = `${name}\0${worldDir}\0${split}`;
    let p = memo.get(key);
    if (p === undefined) {
      p = load(name, worldDir, split);
      memo.set(key, p);
    }
    return p;
  };
}
