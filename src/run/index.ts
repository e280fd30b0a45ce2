// Runs: recipes (validated config with profiles), stage kinds, resumable stages and steps, run
// folders with manifests and reports. Methods register their stage kinds and inference modes; the
// CLI calls runRecipe.
export { hashFiles, readJsonIfExists, sha256File, writeDirAtomic, writeFileAtomic, writeJsonAtomic } from "./atomic.js";
export {
  type CompareRunsOptions,
  compareRunDirs,
  compareWithBase,
  readReportRounds,
  readRunEvaluation,
  worldBenchSpec,
} from "./compare-runs.js";
export { runStep } from "./context.js";
export { evaluateRound, type LoadBench } from "./eval.js";
export {
  defineInferenceMode,
  type InferenceMode,
  inferenceModes,
  registerInferenceMode,
  type SelectedMode,
  selectedMode,
} from "./inference-mode.js";
export { ConfigChangedError, type Manifest } from "./manifest.js";
export {
  formatDuration,
  formatProgressLine,
  formatRate,
  type ProgressHandle,
  ProgressReporter,
  type ProgressState,
} from "./progress.js";
export {
  applyProfile,
  BASE_ROUND,
  defaultRunDir,
  type EvalConfig,
  evalConfigSchema,
  loadRecipe,
  type Recipe,
  RecipeError,
  recipeSchema,
  resolveRecipe,
  stageSeed,
} from "./recipe.js";
export { type Report, type Round, type RunDeps, type RunOutcome, type RunRecipeOptions, runRecipe } from "./runner.js";
export {
  defineStageKind,
  getStageKind,
  registerStageKind,
  type StageConfig,
  type StageContext,
  type StageKind,
  type StageResult,
  stageKinds,
} from "./stage-kind.js";
export {
  type Continuation,
  ContinueError,
  type ContinueWith,
  WAITING_EXIT_CODE,
  type WaitingState,
} from "./waiting.js";
export { ensureWorld, evalSplits, WorldMismatchError } from "./world.js";
