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
//
// Over a served model, a stage that trains hands its training off instead (trainStageModel writes
// `<stage>/export/`) and the run stops, waiting for the trained model (waiting.json, waiting.ts):
// a rerun prints the same message and does nothing else; a rerun with `continueWith` (the CLI's
// --continue-with URL) probes that server, records it as the stage's model in its stage.json and
// goes on: the stage's round is evaluated over it and later stages start from it.
import { appendFileSync, existsSync, mkdirSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { BackendNeeds, BackendSpec, HttpBackendOptions } from "../backends/index.js";
import type { VisionLanguageModel } from "../backends/types.js";
import type { Handoff } from "../data/export/handoff.js";
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
import {
  checkStagesOverEndpoint,
  endpointLabel,
  endpointOf,
  endpointSpec,
  isEndpointLabel,
  modelLabel,
  runNeeds,
} from "./model-source.js";
import { ProgressReporter } from "./progress.js";
import { BASE_ROUND, defaultRunDir, type EndpointModel, loadRecipe, type Recipe, stageSeed } from "./recipe.js";
import {
  getStageKind,
  type ServedModel,
  type StageConfig,
  type StageResult,
  stageNeeds,
  type TrainElsewhere,
} from "./stage-kind.js";
import {
  type Continuation,
  ContinueError,
  type ContinueWith,
  clearWaiting,
  readWaiting,
  shellWord,
  type WaitingState,
  waitingMessage,
  writeWaiting,
} from "./waiting.js";
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
  /** The model names a server lists (GET /models): `--continue-with` without `--continue-model`. */
  listModels(spec: Omit<HttpBackendOptions, "model">): Promise<string[]>;
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
    async listModels(spec) {
      const { listServedModels } = await import("../backends/index.js");
      return listServedModels(spec);
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
  /**
   * The trained model of the stage the run waits for, served (`--continue-with`): recorded as the
   * stage's model, and the run goes on with it. An error when the run is not waiting.
   */
  continueWith?: ContinueWith;
}

export interface RunOutcome {
  runDir: string;
  report: Report;
  /** Set when the run stopped waiting for a stage's trained model (waiting.json). */
  waiting?: WaitingState;
}

interface StoredStage extends StageResult {
  name: string;
  type: string;
  seed: number;
  seconds: number;
  finishedAt: string;
  /** The served model `--continue-with` gave as this stage's trained model. */
  continuedWith?: Continuation;
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
    return await run(recipe, sha256, runDir, options.recipePath, deps, signal, {
      continueWith: options.continueWith,
      runCommand: resumeCommand(options, runDir),
    });
  } finally {
    unlock();
  }
}

/** The command that resumes this run: the recipe, the folder, and the overrides it was given. */
function resumeCommand(options: RunRecipeOptions, runDir: string): string {
  const words = ["selfsynth", "run", options.recipePath, "--out", runDir];
  if (options.profile !== undefined) words.push("--profile", options.profile);
  if (options.seed !== undefined) words.push("--seed", String(options.seed));
  if (options.threads !== undefined) words.push("--threads", String(options.threads));
  return words.map(shellWord).join(" ");
}

/** What every part of one run shares. */
interface RunState {
  recipe: Recipe;
  runDir: string;
  deps: RunDeps;
  /** Opens a model a stage or an evaluation names: a folder, or a served model by its label. */
  openModel(model: string): Promise<VisionLanguageModel>;
  /** The recipe's endpoint model's label, or null. */
  endpoint: string | null;
  /** Every served model of the run by its label: the recipe's, and each stage's `continuedWith`. */
  endpoints: Map<string, EndpointModel>;
  /** A served model's backend spec (its API key read now). */
  specOf(served: EndpointModel): BackendSpec & { kind: "openai" };
  /** The command that resumes the run (for a hand-off's guide and the waiting message). */
  runCommand: string;
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
  options: { continueWith?: ContinueWith; runCommand: string },
): Promise<RunOutcome> {
  const logPath = join(runDir, "run.log");
  const log = (line: string) => {
    deps.reporter.log(line);
    appendFileSync(logPath, `${new Date().toISOString()} ${line}\n`);
  };
  const endpoint = endpointOf(recipe.model);
  const label = endpoint === null ? null : modelLabel(recipe.model);
  // The served models: the recipe's, and those earlier --continue-with gave (in their stage.json).
  const endpoints = new Map<string, EndpointModel>();
  if (endpoint !== null && label !== null) endpoints.set(label, endpoint);
  for (const s of recipe.stages) {
    const continued = readStage(runDir, s.name)?.continuedWith;
    if (continued !== undefined) endpoints.set(endpointLabel(continued.endpoint), continued.endpoint);
  }
  // The API key is read from its variable at each opening; an unset one names the flag or field.
  const specOf = (served: EndpointModel) =>
    served === endpoint
      ? endpointSpec(served, recipePath)
      : endpointSpec(served, "--continue-with", process.env, "--continue-api-key-env");
  const openModel = (model: string) => {
    const served = endpoints.get(model);
    return served === undefined ? deps.openModel(model) : deps.openEndpoint(specOf(served));
  };
  const state: RunState = {
    recipe,
    runDir,
    deps,
    openModel,
    specOf,
    endpoint: label,
    endpoints,
    runCommand: options.runCommand,
    signal,
    log,
  };

  // The config before anything else: waiting or not, a rerun with another recipe is refused.
  const configPath = join(runDir, "config.resolved.json");
  const storedConfig = readJsonIfExists(configPath);
  if (storedConfig !== undefined) checkSameConfig(runDir, storedConfig, recipe);
  else if (options.continueWith !== undefined)
    throw new ContinueError(`run ${runDir} has not started: --continue-with continues a run that waits for a model`);
  else writeJsonAtomic(configPath, recipe);

  let waiting = readWaiting(runDir);
  // Killed between a continuation's stage.json and the removal of waiting.json: the stage is done.
  if (waiting !== undefined && readStage(runDir, waiting.stage) !== undefined) {
    clearWaiting(runDir);
    waiting = undefined;
  }
  let probed: string | null = null;
  if (options.continueWith !== undefined) {
    probed = await continueWaiting(state, waiting, options.continueWith);
  } else if (waiting !== undefined) {
    // Nothing to do until the trained model is served: the same message, no work, no probe.
    log(waiting.message);
    return { runDir, report: readJsonIfExists<Report>(join(runDir, "report.json")) ?? { rounds: [] }, waiting };
  }

  const { manifest, world } = await prepare(state, recipePath, recipeSha, probed);

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
  const recordStages = () => {
    for (const s of results) {
      manifest.stages[s.name] = {
        type: s.type,
        model: s.model,
        files: hashFiles(join(runDir, "stages", s.name)),
        ...(s.continuedWith === undefined ? {} : { continuedWith: s.continuedWith }),
      };
    }
  };
  for (const config of recipe.stages) {
    signal.throwIfAborted();
    const outcome = await runStage(state, config, model, world);
    if ("handoff" in outcome) {
      // The stage's training is handed off: the run waits for its trained model.
      const waitingNow: WaitingState = {
        stage: config.name,
        type: config.type,
        since: new Date().toISOString(),
        inputModel: model,
        handoff: outcome.handoff,
        message: waitingMessage(runDir, config.name, outcome.handoff.guide, options.runCommand),
      };
      writeWaiting(runDir, waitingNow);
      recordStages();
      manifest.status = "waiting";
      manifest.waiting = waitingNow;
      writeJsonAtomic(join(runDir, "manifest.json"), manifest);
      log(waitingNow.message);
      return { runDir, report, waiting: waitingNow };
    }
    results.push(outcome);
    model = isEndpointLabel(outcome.model) ? outcome.model : loadedPath(runDir, outcome.model);
    if (config.evaluate ?? outcome.evaluate) await evaluate(config.name, model);
  }

  recordStages();
  manifest.status = "finished";
  manifest.finishedAt = new Date().toISOString();
  writeJsonAtomic(join(runDir, "manifest.json"), manifest);
  writeJsonAtomic(join(runDir, "report.json"), report);
  writeReportPage(runDir, report, log);
  log(`run ${runDir}: finished`);
  return { runDir, report };
}

function readStage(runDir: string, name: string): StoredStage | undefined {
  return readJsonIfExists<StoredStage>(join(runDir, "stages", name, "stage.json"));
}

/** The model the first unfinished stage starts from, and the stages still to run. */
function currentModel(state: RunState): { model: string; remaining: StageConfig[] } {
  let model = modelLabel(state.recipe.model);
  const remaining: StageConfig[] = [];
  for (const s of state.recipe.stages) {
    const done = remaining.length === 0 ? readStage(state.runDir, s.name) : undefined;
    if (done === undefined) remaining.push(s);
    else model = isEndpointLabel(done.model) ? done.model : loadedPath(state.runDir, done.model);
  }
  return { model, remaining };
}

/**
 * `--continue-with`: the trained model of the stage the run waits for, served. Refused unless the
 * run waits; probed for what the rest of the run asks (a refused connection, a name the server
 * lacks: errors naming the URL, and the run still waits); then recorded as the stage's model in its
 * stage.json, and waiting.json removed. Resolves with the served model's label.
 */
async function continueWaiting(
  state: RunState,
  waiting: WaitingState | undefined,
  given: ContinueWith,
): Promise<string> {
  const { recipe, runDir, deps, log } = state;
  if (waiting === undefined) {
    const manifest = readJsonIfExists<Manifest>(join(runDir, "manifest.json"));
    if (manifest?.finishedAt)
      throw new ContinueError(
        `run ${runDir} has finished: --continue-with continues a run that waits for a stage's trained model`,
      );
    throw new ContinueError(
      `run ${runDir} is not waiting for a model: --continue-with continues a run stopped at a stage that trains a served model; rerun without it to resume`,
    );
  }
  let url: URL;
  try {
    url = new URL(given.baseUrl);
  } catch {
    url = new URL("invalid:");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new ContinueError(
      `--continue-with ${given.baseUrl}: expected the server's http(s) base URL, such as http://host:8000/v1`,
    );
  const index = recipe.stages.findIndex((s) => s.name === waiting.stage);
  if (index < 0) throw new ContinueError(`${runDir}/waiting.json names stage ${waiting.stage}, which the recipe lacks`);
  // The client settings (concurrency, time-out, attempts) of the endpoint the stage started from.
  const from = state.endpoints.get(waiting.inputModel);
  const settings = {
    baseUrls: [given.baseUrl],
    ...(given.apiKeyEnv === undefined ? {} : { apiKeyEnv: given.apiKeyEnv }),
    ...(from?.concurrency === undefined ? {} : { concurrency: from.concurrency }),
    ...(from?.timeoutMs === undefined ? {} : { timeoutMs: from.timeoutMs }),
    ...(from?.maxAttempts === undefined ? {} : { maxAttempts: from.maxAttempts }),
  };
  const spec = (e: EndpointModel) => state.specOf(e);
  let name = given.model;
  if (name === undefined) {
    const { kind: _kind, model: _model, ...listing } = spec({ ...settings, model: "(listing)" });
    const listed = await deps.listModels(listing);
    if (listed.length !== 1)
      throw new ContinueError(
        `--continue-with ${given.baseUrl}: the server lists ${listed.length === 0 ? "no model" : `several models (${listed.join(", ")})`}; name the trained one with --continue-model NAME`,
      );
    name = listed[0];
  }
  const served: EndpointModel = { ...settings, model: name };
  const needs = runNeeds(recipe, recipe.stages.slice(index + 1));
  const backend = await deps.openEndpoint(spec(served), needs);
  await backend.close();
  const label = endpointLabel(served);
  log(`model: ${name} at ${given.baseUrl} serves ${describeNeeds(needs)}`);
  const config = recipe.stages[index];
  const now = new Date().toISOString();
  const stored: StoredStage = {
    name: config.name,
    type: config.type,
    seed: stageSeed(recipe.seed, config.name),
    model: label,
    evaluate: true,
    seconds: (Date.parse(now) - Date.parse(waiting.since)) / 1000,
    finishedAt: now,
    continuedWith: { endpoint: served, at: now, export: waiting.handoff.exportDir },
  };
  writeJsonAtomic(join(runDir, "stages", config.name, "stage.json"), stored);
  clearWaiting(runDir);
  state.endpoints.set(label, served);
  log(`stage ${config.name}: continued with ${label} (trained from ${waiting.handoff.exportDir})`);
  return label;
}

/**
 * Before any stage: the config against a stored one, the input model's hashes against the stored
 * manifest, the world splits every stage and the evaluation need, threads; writes the manifest.
 */
async function prepare(
  state: RunState,
  recipePath: string,
  recipeSha: string,
  probed: string | null,
): Promise<{ manifest: Manifest; world: WorldState | null }> {
  const { recipe, runDir, deps, log } = state;
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
    // Before any stage: a stage that cannot run over a served model, then the images, then the endpoint itself.
    checkStagesOverEndpoint(recipe.stages, endpoint, recipePath);
    inputModel = { endpoint: { baseUrls: endpoint.baseUrls, model: endpoint.model } };
  }
  if (recipe.images !== undefined) {
    const n = await checkImageSource(recipe.images);
    log(`images: ${describeImageSource(recipe.images)} lists ${n} images`);
  }
  // The served model the rest of the run starts from (the recipe's, or the latest one
  // --continue-with gave), probed for what the stages still to run ask of it.
  const current = currentModel(state);
  const served = state.endpoints.get(current.model);
  if (served !== undefined && current.model !== probed) {
    const needs = runNeeds(recipe, current.remaining);
    const backend = await deps.openEndpoint(state.specOf(served), needs);
    await backend.close();
    log(`model: ${served.model} at ${served.baseUrls.join(", ")} serves ${describeNeeds(needs)}`);
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
    status: "running",
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

/**
 * Runs one stage from `model`, or reads its stage.json when it finished earlier; a stage over a
 * served model that handed its training off gives its hand-off instead (no stage.json: it waits).
 */
async function runStage(
  state: RunState,
  config: StageConfig,
  model: string,
  world: WorldState | null,
): Promise<StoredStage | { handoff: Handoff }> {
  const { recipe, runDir, deps, signal, log } = state;
  const stageDir = join(runDir, "stages", config.name);
  const done = readStage(runDir, config.name);
  if (done !== undefined) {
    log(`stage ${config.name}: finished earlier, skipped`);
    return done;
  }
  mkdirSync(stageDir, { recursive: true });
  const seed = stageSeed(recipe.seed, config.name);
  log(`stage ${config.name} (${config.type}, seed ${seed}): from ${model}`);
  const served = state.endpoints.get(model);
  const servedInput: ServedModel | null =
    served === undefined ? null : { model: served.model, baseUrls: [...served.baseUrls] };
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
    servedInput,
    // The recipe's model by identity (a continuation may be served under the same name and URL).
    trainElsewhere: trainElsewhereOf(recipe, config, served !== undefined && served === endpointOf(recipe.model)),
    runCommand: state.runCommand,
    openModel: state.openModel,
    reporter: deps.reporter,
    log: (line) => log(`[${config.name}] ${line}`),
    signal,
  });
  const t0 = performance.now();
  const result = await getStageKind(config.type).run(ctx, config);
  if (result.waiting !== undefined) return { handoff: result.waiting };
  const stored: StoredStage = {
    name: config.name,
    type: config.type,
    seed,
    model: isEndpointLabel(result.model) ? result.model : storedPath(runDir, result.model),
    evaluate: result.evaluate,
    seconds: (performance.now() - t0) / 1000,
    finishedAt: new Date().toISOString(),
  };
  writeJsonAtomic(join(stageDir, "stage.json"), stored);
  log(`stage ${config.name}: done in ${stored.seconds.toFixed(1)} s, model ${result.model}`);
  return stored;
}

/**
 * A stage's `trainElsewhere`: its own fields over the recipe's; the recipe's baseModel names the
 * recipe's model's weights, so it applies only to a stage that starts from that model.
 */
function trainElsewhereOf(recipe: Recipe, config: StageConfig, fromRecipeModel: boolean): TrainElsewhere {
  const base = recipe.trainElsewhere ?? {};
  const own = config.trainElsewhere ?? {};
  const baseModel = own.baseModel ?? (fromRecipeModel ? base.baseModel : undefined);
  const template = own.template ?? base.template;
  return {
    ...(baseModel === undefined ? {} : { baseModel }),
    ...(template === undefined ? {} : { template }),
  };
}

/** The recipe's world folder (only asked for when benches run, which the recipe schema ties to a world). */
function worldDir(recipe: Recipe): string {
  if (recipe.world === undefined) throw new Error("the recipe names no world: to evaluate on");
  return recipe.world.dir;
}

/** The world splits a stage reads: its kind's, less the pool when the recipe's images: give it. */
function worldSplits(recipe: Recipe, config: StageConfig): SplitName[] {
  const sources = { world: recipe.world !== undefined, images: recipe.images !== undefined };
  const splits = getStageKind(config.type).needsSplits?.(config, sources) ?? [];
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
