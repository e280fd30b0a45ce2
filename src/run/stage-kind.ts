// Stage kinds: what a recipe's `stages[i].type` names. A method registers its kinds (a zod schema
// for the stage's own fields, the world splits it reads, and run); the recipe schema is built
// from the registry, so an unknown type is refused with the list of known ones. Registration is
// explicit (nothing registers itself at import).
import type { z } from "zod";
import type { BackendNeeds } from "../backends/needs.js";
import type { VisionLanguageModel } from "../backends/types.js";
import type { Handoff } from "../data/export/handoff.js";
import type { ImageSourceSpec } from "../data/image-source.js";
import type { SplitName, WorldConfig } from "../world/config.js";
import type { ProgressHandle } from "./progress.js";

/** Fields every stage has besides its kind's own: set by the recipe, checked by the runner. */
export interface StageCommon {
  name: string;
  type: string;
  /** Overrides the kind's choice of whether the stage's output model is evaluated. */
  evaluate?: boolean;
  /**
   * Make the stage's data only: skip its training, keep the input model. (Without it, a stage over
   * a served model hands its training off: trainStageModel writes `export/` and the run waits.)
   */
  dataOnly?: boolean;
  /** For a hand-off: the base model the training configs name, LLaMA-Factory's template. */
  trainElsewhere?: TrainElsewhere;
}

/**
 * How a trainer elsewhere finds the weights of a served model (recipe or stage `trainElsewhere:`):
 * `baseModel` a Hugging Face id or a folder on the training machine (default: the served model's
 * name), `template` LLaMA-Factory's chat template (default: guessed from that name).
 */
export interface TrainElsewhere {
  baseModel?: string;
  template?: string;
}

/** A served input model: its name and where it is served. */
export interface ServedModel {
  model: string;
  baseUrls: string[];
}

/**
 * What a stage asks of its input model and of the run's data, declared by its kind so that the
 * runner checks them when the run starts (an endpoint that cannot serve them, a recipe without the
 * images) instead of failing in the middle of the run.
 */
export interface StageNeeds {
  /** What it asks of the input model's backend when it generates or scores (images, scoring, ...). */
  backend?: BackendNeeds;
  /**
   * Trains the input model's weights (skipped with `dataOnly: true`). A served model has none here:
   * its training is handed off (trainStageModel writes an export and the run waits for the model).
   */
  weights?: boolean;
  /** Runs inside the embedded model itself (its tensors, not the backend interface): no endpoint. */
  embeddedOnly?: string;
  /** Reads unlabeled pool images, which the recipe's `images:` may give instead of the world's pool split. */
  poolImages?: boolean;
}

/** What a recipe gives its stages besides their own options: SceneWorld (`world:`), the user's images (`images:`). */
export interface RecipeSources {
  world: boolean;
  images: boolean;
}

/** A stage's validated config: its kind's fields plus the common ones. */
export type StageConfig<S extends z.ZodObject = z.ZodObject> = z.output<S> & StageCommon;

export interface StageContext {
  runDir: string;
  /** `<run>/stages/<name>/`: everything the stage writes goes here. */
  stageDir: string;
  name: string;
  /** Derived from the run seed and the stage name (stageSeed): stable across reruns and reorderings. */
  seed: number;
  threads: number;
  /** The recipe profile the run uses, or null. */
  profile: string | null;
  /** The model the stage starts from: the previous stage's output, or the recipe's model. */
  inputModel: string;
  /** The recipe's SceneWorld, or null when it names none (a run over the user's images). */
  world: { dir: string; config: WorldConfig } | null;
  /** The recipe's image source (`images:`), or null: where pool images come from instead of the world. */
  images: ImageSourceSpec | null;
  /** The stage's `dataOnly`: make the data, skip training (trainStageModel returns the input model). */
  dataOnly: boolean;
  /**
   * The input model when it is served (its weights are not here): trainStageModel then writes the
   * training hand-off instead of training, and the stage's result waits for the trained model.
   */
  servedInput: ServedModel | null;
  /** For a hand-off: the base model and template the configs name (the recipe's and the stage's `trainElsewhere`). */
  trainElsewhere: TrainElsewhere;
  /** The command that resumes this run (`selfsynth run RECIPE --out RUN ...`), for a hand-off's guide. */
  runCommand: string;
  /** Opens a model directory as a backend (the embedded one unless the runner was given another). */
  openModel(dir: string): Promise<VisionLanguageModel>;
  /**
   * Runs `fn` once: when `<stageDir>/steps/<name>.json` holds a stored result, returns it without
   * calling fn; else awaits fn and stores its result atomically. The result must survive
   * JSON.stringify (it is what a rerun gets back). A killed stage thus resumes at its first
   * unfinished step; work inside a step must be safe to redo (write its files atomically).
   */
  step<T>(name: string, fn: () => T | Promise<T>): Promise<T>;
  /** A progress bar (items/s, ETA); `initial` items count as already done (resumed). */
  progress(label: string, total: number, initial?: number): ProgressHandle;
  /** A line for the terminal and `<run>/run.log`. */
  log(line: string): void;
  /** Aborted on Ctrl-C; long loops should check it between items. */
  signal: AbortSignal;
}

export interface StageResult {
  /** The model after the stage (a folder; the input model when the stage does not train). */
  model: string;
  /** Whether the runner evaluates `model` as a round of the report. */
  evaluate: boolean;
  /**
   * Set when the stage handed its training off (a served input model): what it wrote. The runner
   * stops the run as waiting for the trained model instead of finishing the stage.
   */
  waiting?: Handoff;
}

export interface StageKind<S extends z.ZodObject = z.ZodObject> {
  /** The value of `type:` in a recipe. */
  type: string;
  /** One line for listings. */
  description?: string;
  /** The stage's own fields (name, type and evaluate are added by the recipe schema). */
  schema: S;
  /**
   * The world splits the stage reads, given what the recipe holds (a stage may read the user's
   * `images:` instead of a split); the runner builds missing ones before any stage runs.
   */
  needsSplits?(config: StageConfig<S>, sources: RecipeSources): SplitName[];
  /**
   * Problems of the stage's options against the recipe's sources, reported at recipe load as
   * `stages[i].<field>: <message>` (e.g. a teacher that needs SceneWorld's scene graphs beside
   * the user's images). Default: none.
   */
  sourceProblems?(config: StageConfig<S>, sources: RecipeSources): { field: string; message: string }[];
  /** What it needs of its model and data (default: nothing declared: a checkpoint it may train). */
  needs?(config: StageConfig<S>): StageNeeds;
  run(ctx: StageContext, config: StageConfig<S>): Promise<StageResult>;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry holds kinds of every schema
type AnyStageKind = StageKind<any>;

const registry = new Map<string, AnyStageKind>();

/** Identity, to infer a kind's config type from its schema at the definition. */
export function defineStageKind<S extends z.ZodObject>(kind: StageKind<S>): StageKind<S> {
  return kind;
}

/** Adds a kind; registering the same object twice is a no-op, another kind under a taken type is an error. */
export function registerStageKind<S extends z.ZodObject>(kind: StageKind<S>): void {
  if (!/^[a-z][a-z0-9-]*$/.test(kind.type)) {
    throw new Error(`stage kind type '${kind.type}': use lower-case letters, digits and '-'`);
  }
  for (const reserved of ["name", "type", "evaluate", "dataOnly", "trainElsewhere"]) {
    if (reserved in kind.schema.shape) {
      throw new Error(`stage kind '${kind.type}': its schema must not define '${reserved}' (the recipe adds it)`);
    }
  }
  const existing = registry.get(kind.type);
  if (existing !== undefined && existing !== kind) throw new Error(`stage kind '${kind.type}' is already registered`);
  registry.set(kind.type, kind as AnyStageKind);
}

/** The stage's world, or an error naming the stage when the recipe names none. */
export function worldOf(ctx: StageContext): { dir: string; config: WorldConfig } {
  if (ctx.world === null)
    throw new Error(
      `${ctx.name}: this stage reads SceneWorld, and the recipe names no world: (add world: { config, dir })`,
    );
  return ctx.world;
}

/** What a stage config needs, with `dataOnly` applied (no weights when it skips training). */
export function stageNeeds(config: StageConfig): StageNeeds {
  const declared: StageNeeds = getStageKind(config.type).needs?.(config) ?? { weights: true };
  return config.dataOnly === true ? { ...declared, weights: false } : declared;
}

export function getStageKind(type: string): AnyStageKind {
  const kind = registry.get(type);
  if (kind === undefined) {
    throw new Error(`unknown stage type '${type}'; known types: ${[...registry.keys()].join(", ") || "(none)"}`);
  }
  return kind;
}

/** Registered kinds, in registration order. */
export function stageKinds(): AnyStageKind[] {
  return [...registry.values()];
}
