// Recipes: a YAML file naming the world, the starting model, the evaluation and the stages, with
// named profiles (deep-partial overrides, e.g. `quick`) merged in before validation. The schema is
// built from the stage-kind registry, and every error names the file and the exact field:
//   recipes/stic.yaml: stages[1].dpo.beta: expected a number > 0, got -1
//
//   name: stic
//   seed: 0
//   threads: 2
//   world: { config: assets/world/default.yaml, dir: runs/world }
//   model: assets/base
//   eval: { benches: [pope-random, chair], split: test, batchSize: 16, describeFirst: false }
//     (every item of the split; `limit: N` scores the first N of each bench, as the quick profile does)
//     (describeFirst: an inference mode's switch; the registered modes add their fields)
//   profiles:
//     quick: { eval: { limit: 60 }, stages: [{ name: stic-stage1, images: 40 }] }
//   stages:
//     - { name: stic-stage1, type: stic-preferences, ... }
//
// Paths (world.config, world.dir, model, images) are relative to the working directory, like every
// command's flags.
//
// Bring your own model and images (recipes/stic-endpoint.yaml):
//   model: { endpoint: { baseUrls: [http://host:8000/v1], model: NAME, apiKeyEnv: VAR } }
//     a served model (vLLM, SGLang, `selfsynth serve`, ...) instead of a checkpoint folder; the
//     key is read from the environment variable VAR, never from the recipe;
//   images: { folder: DIR } | { jsonl: FILE } | { parquet: FILE, column: NAME }
//     the stages' unlabeled pool images instead of `world:` (src/data/image-source.ts); a recipe
//     without `world:` evaluates nothing by default (the benches are SceneWorld's).
// A stage that trains over a served model makes its data, then hands its training off (an export
// for TRL and LLaMA-Factory with ready configs) and the run waits for the trained model
// (`selfsynth run ... --continue-with URL`); `trainElsewhere: { baseModel, template }`, on the
// recipe or a stage, names the weights and LLaMA-Factory's template those configs use. A stage's
// `dataOnly: true` makes its data and skips its training, with no hand-off. Which stage reads which
// source is checked here, from what each stage kind declares given the recipe's sources
// (needsSplits: a stage that reads the user's files instead of a split does not need `world:`;
// sourceProblems: an option that cannot work with them; needs); what an endpoint serves is
// checked when the run starts.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ImageSourceSchema, type ImageSourceSpec } from "../data/image-source.js";
import { BENCH_NAMES } from "../eval/benches.js";
import { EVAL_SPLITS } from "../eval/world-benches.js";
import { describeIssues, formatPath } from "../util/zod-issues.js";
import { checkOneMode, modeFields } from "./inference-mode.js";
import { getStageKind, type StageConfig, stageKinds, stageNeeds, type TrainElsewhere } from "./stage-kind.js";

/** Names that become folder names (run, stage, profile). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const name = () =>
  z.string().regex(NAME_PATTERN, {
    message: "expected a name of letters, digits, '.', '_' and '-' (starting with a letter or digit)",
  });

/** The round name of the starting model in the report. */
export const BASE_ROUND = "base";

/** The eval block's own fields; each registered inference mode adds its switch and options (inference-mode.ts). */
const EvalFields = {
  benches: z.array(z.enum(BENCH_NAMES)).default([...BENCH_NAMES]),
  split: z.enum(EVAL_SPLITS).default("test"),
  // No limit by default: a reported number covers the whole split.
  limit: z.number().int().min(1).optional().describe("score only the first n items of each bench (default: all)"),
  batchSize: z.number().int().min(1).default(16),
};

/** The eval block's schema over the inference modes registered now. */
export function evalConfigSchema(): z.ZodType<EvalConfig> {
  const modes = modeFields();
  for (const field of Object.keys(modes)) {
    if (field in EvalFields) throw new Error(`an inference mode's field '${field}' is an eval field already`);
  }
  return z
    .object({ ...EvalFields, ...modes })
    .strict()
    .superRefine(checkOneMode);
}
/** The validated eval block: its own fields, and the modes' (read through selectedMode). */
export type EvalConfig = z.output<z.ZodObject<typeof EvalFields>> & Record<string, unknown>;

/** A served model: OpenAI-compatible endpoints (requests balanced over them) and the name they serve. */
const EndpointSchema = z
  .object({
    baseUrls: z
      .array(z.url({ protocol: /^https?$/, error: "expected an http(s) URL such as http://host:8000/v1" }))
      .min(1),
    model: z.string().min(1).describe("the model name the servers list (GET /v1/models)"),
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: "expected an environment variable's name" })
      .optional()
      .describe("the environment variable holding the API key (never the key itself)"),
    concurrency: z.number().int().min(1).optional().describe("requests in flight per endpoint (default 16)"),
    timeoutMs: z.number().int().min(1).optional().describe("deadline of one attempt (default 120000)"),
    maxAttempts: z.number().int().min(1).optional().describe("attempts per request, retries included (default 8)"),
  })
  .strict();
export type EndpointModel = z.output<typeof EndpointSchema>;

/** `trainElsewhere:` (recipe or stage): what a hand-off's training configs name (stage-kind.ts). */
const TrainElsewhereSchema = z
  .object({
    baseModel: z
      .string()
      .min(1)
      .optional()
      .describe(
        "the weights to train: a Hugging Face id or a folder on the training machine (default: the served model's name)",
      ),
    template: z
      .string()
      .min(1)
      .optional()
      .describe("LLaMA-Factory's chat template, e.g. llava, qwen2_vl (default: guessed from the model's name)"),
  })
  .strict();

const CheckpointSchema = z.string().min(1);
const ServedSchema = z.object({ endpoint: EndpointSchema }).strict();
/** A checkpoint folder, or a served model. */
export type ModelRef = string | z.output<typeof ServedSchema>;

/**
 * `model:` is a folder (a string) or `{ endpoint: ... }`, chosen by the value's type, so that an
 * error names the exact field of the form given (a union would report only "invalid input").
 */
const ModelSchema = z.unknown().transform((value, ctx): ModelRef => {
  const option = typeof value === "object" && value !== null ? ServedSchema : CheckpointSchema;
  const parsed = option.safeParse(value, { reportInput: true });
  if (parsed.success) return parsed.data;
  // The option's issues as they are (paths below model:, inputs kept for the messages).
  for (const issue of parsed.error.issues) ctx.issues.push(issue as (typeof ctx.issues)[number]);
  return z.NEVER;
});

export interface Recipe {
  name: string;
  /** The profiles merged in, joined by "+" ("paper+validation"), or null. */
  profile: string | null;
  seed: number;
  threads: number;
  /** SceneWorld, built on demand; absent in a run over the user's images. */
  world?: { config: string; dir: string };
  /** The user's images: the stages' unlabeled pool instead of the world's. */
  images?: ImageSourceSpec;
  model: ModelRef;
  /** Defaults of the stages' `trainElsewhere` (baseModel: the recipe's model's weights only). */
  trainElsewhere?: TrainElsewhere;
  eval: EvalConfig;
  stages: StageConfig[];
}

export class RecipeError extends Error {
  override name = "RecipeError";
}

/** The recipe schema over the stage kinds registered now (profiles are checked separately). */
export function recipeSchema() {
  const kinds = stageKinds();
  const options = kinds.map((k) =>
    k.schema
      .extend({
        name: name(),
        type: z.literal(k.type),
        evaluate: z.boolean().optional(),
        dataOnly: z.boolean().optional(),
        trainElsewhere: TrainElsewhereSchema.optional(),
      })
      .strict(),
  );
  const stage =
    options.length === 0
      ? z.custom<never>(() => false, { message: "no stage kinds are registered" })
      : z.discriminatedUnion("type", options as unknown as [z.ZodObject, ...z.ZodObject[]]);
  return z
    .object({
      name: name(),
      seed: z.number().int().min(0).default(0),
      threads: z.number().int().min(1).default(2),
      world: z
        .object({ config: z.string().min(1), dir: z.string().min(1) })
        .strict()
        .optional(),
      images: ImageSourceSchema.optional(),
      model: ModelSchema,
      trainElsewhere: TrainElsewhereSchema.optional(),
      eval: evalConfigSchema().prefault({}),
      profiles: z.unknown().optional(),
      stages: z.array(stage),
    })
    .strict()
    .superRefine((r, ctx) => {
      const seen = new Map<string, number>();
      (r.stages as StageConfig[]).forEach((s, i) => {
        if (s.name === BASE_ROUND) {
          ctx.addIssue({
            code: "custom",
            path: ["stages", i, "name"],
            message: `'${BASE_ROUND}' names the starting model's round; choose another name`,
          });
        }
        const first = seen.get(s.name);
        if (first !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: ["stages", i, "name"],
            message: `'${s.name}' is already the name of stages[${first}]`,
          });
        } else seen.set(s.name, i);
      });
      checkSources(r as unknown as SourceFields, ctx);
    });
}

interface SourceFields {
  world?: unknown;
  images?: unknown;
  eval: { benches: readonly string[] };
  stages: StageConfig[];
}

/**
 * Where each stage's data comes from: the world's splits, or the recipe's `images:` for the pool
 * images of a stage that declares it can take them; both sources for the same pool is ambiguous,
 * neither is nothing to read. The benches are SceneWorld's: they need the world.
 */
function checkSources(r: SourceFields, ctx: z.RefinementCtx): void {
  const world = r.world !== undefined;
  const images = r.images !== undefined;
  const sources = { world, images };
  r.stages.forEach((s, i) => {
    const kind = getStageKind(s.type);
    for (const p of kind.sourceProblems?.(s, sources) ?? [])
      ctx.addIssue({
        code: "custom",
        path: ["stages", i, p.field],
        message: `stage ${s.name} (${s.type}): ${p.message}`,
      });
    const splits = kind.needsSplits?.(s, sources) ?? [];
    const fromImages = stageNeeds(s).poolImages === true && splits.includes("pool");
    const at = `stage ${s.name} (${s.type})`;
    if (fromImages && world && images) {
      ctx.addIssue({
        code: "custom",
        path: ["images"],
        message: `${at} reads pool images, and both world: and images: give them; keep one`,
      });
      return;
    }
    const worldSplits = fromImages && images ? splits.filter((x) => x !== "pool") : splits;
    if (worldSplits.length > 0 && !world) {
      const own = fromImages ? " or give images: { folder: DIR } for its pool images" : "";
      const only =
        images && splits.includes("pool") && !fromImages ? " (it cannot take its pool images from images:)" : "";
      ctx.addIssue({
        code: "custom",
        path: ["world"],
        message: `required: ${at} reads SceneWorld's ${worldSplits.join(", ")} split${worldSplits.length > 1 ? "s" : ""}${only}; add world: { config, dir }${own}`,
      });
    }
  });
  if (!world && r.eval.benches.length > 0) {
    ctx.addIssue({
      code: "custom",
      path: ["eval", "benches"],
      message: `the benches (${r.eval.benches.join(", ")}) are SceneWorld's and the recipe names no world:; set eval: { benches: [] } or add world:`,
    });
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Objects merge key by key, recursively; anything else (arrays included) is replaced. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isObj(base) || !isObj(over)) return over === undefined ? base : over;
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

/**
 * A profile merged into a recipe document: objects deep-merge; `stages` merges entry by entry by
 * name (a profile entry must name an existing stage). Errors name the profile's field.
 */
export function applyProfile(doc: Obj, profileName: string, profile: unknown): Obj {
  const where = ["profiles", profileName];
  if (!isObj(profile)) throw new RecipeError(`${formatPath(where)}: expected a mapping of fields`);
  const { stages: overStages, ...rest } = profile;
  const merged = deepMerge(doc, rest) as Obj;
  if (overStages === undefined) return merged;
  if (!Array.isArray(overStages)) throw new RecipeError(`${formatPath([...where, "stages"])}: expected a list`);
  const stages = Array.isArray(doc.stages) ? [...doc.stages] : [];
  const names = stages.map((s) => (isObj(s) ? s.name : undefined));
  overStages.forEach((entry, i) => {
    const at = [...where, "stages", i];
    if (!isObj(entry)) throw new RecipeError(`${formatPath(at)}: expected a mapping of fields`);
    if (typeof entry.name !== "string") {
      throw new RecipeError(`${formatPath([...at, "name"])}: required field missing (the stage to override)`);
    }
    const index = names.indexOf(entry.name);
    if (index < 0) {
      const known = names.filter((n) => typeof n === "string").join(", ") || "none";
      throw new RecipeError(`${formatPath([...at, "name"])}: no stage named '${entry.name}' (stages: ${known})`);
    }
    stages[index] = deepMerge(stages[index], entry);
  });
  merged.stages = stages;
  return merged;
}

export interface ResolveOptions {
  /** Profiles of the recipe's `profiles:` to merge in, comma-separated, in order ("paper,validation"). */
  profile?: string;
  /** Overrides the recipe's seed. */
  seed?: number;
  /** Overrides the recipe's thread count. */
  threads?: number;
}

/** Validates a recipe document (already parsed from YAML); `source` prefixes every error line. */
export function resolveRecipe(doc: unknown, source: string, options: ResolveOptions = {}): Recipe {
  const fail = (lines: string[]) => new RecipeError(lines.map((l) => `${source}: ${l}`).join("\n"));
  if (!isObj(doc)) throw fail(["expected a mapping of fields (name, world, model, eval, stages, ...)"]);
  let data: Obj = doc;
  const profiles = doc.profiles;
  if (profiles !== undefined && !isObj(profiles)) throw fail(["profiles: expected a mapping of profile names"]);
  for (const key of Object.keys(profiles ?? {})) {
    if (!NAME_PATTERN.test(key))
      throw fail([`profiles.${key}: a profile name must be letters, digits, '.', '_' and '-'`]);
  }
  // "a,b" merges profile a, then b over it; the run is labelled "a+b".
  const names = options.profile === undefined ? [] : options.profile.split(",").map((n) => n.trim());
  const label = names.length === 0 ? null : names.join("+");
  for (const name of names) {
    if (profiles === undefined || !(name in profiles)) {
      const known = Object.keys(profiles ?? {});
      throw fail([
        `profile '${name}' not found; ${known.length ? `profiles: ${known.join(", ")}` : "the recipe has no profiles"}`,
      ]);
    }
    try {
      data = applyProfile(data, name, profiles[name]);
    } catch (error) {
      if (error instanceof RecipeError) throw fail([error.message]);
      throw error;
    }
  }
  if (options.seed !== undefined) data = { ...data, seed: options.seed };
  if (options.threads !== undefined) data = { ...data, threads: options.threads };
  // Without a world there is nothing to evaluate on unless the recipe says otherwise.
  if (data.world === undefined && !(isObj(data.eval) && "benches" in data.eval))
    data = { ...data, eval: { ...(isObj(data.eval) ? data.eval : {}), benches: [] } };
  const schema = recipeSchema();
  const parsed = schema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    const lines = describeIssues(parsed.error.issues, schema, data);
    if (label === null) throw fail(lines);
    // The field may come from the profile or the recipe: say that the profile was merged in.
    const merged = names.length === 1 ? `profile '${label}'` : `profiles ${names.map((n) => `'${n}'`).join(", ")}`;
    throw new RecipeError(lines.map((l) => `${source} (with ${merged}): ${l}`).join("\n"));
  }
  const r = parsed.data;
  return {
    name: r.name,
    profile: label,
    seed: r.seed,
    threads: r.threads,
    ...(r.world === undefined ? {} : { world: r.world }),
    ...(r.images === undefined ? {} : { images: r.images }),
    model: r.model,
    ...(r.trainElsewhere === undefined ? {} : { trainElsewhere: r.trainElsewhere }),
    eval: r.eval,
    stages: r.stages as StageConfig[],
  };
}

export interface LoadedRecipe {
  recipe: Recipe;
  /** sha256 of the recipe file's bytes. */
  sha256: string;
}

/** Reads, merges and validates a recipe file. */
export function loadRecipe(path: string, options: ResolveOptions = {}): LoadedRecipe {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new RecipeError(`cannot read recipe ${path}: ${(error as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(bytes.toString("utf8"));
  } catch (error) {
    throw new RecipeError(`${path}: not valid YAML: ${(error as Error).message}`);
  }
  return { recipe: resolveRecipe(doc, path, options), sha256: createHash("sha256").update(bytes).digest("hex") };
}

/** The folder a run goes to by default: `runs/<name>[-<profile>]-seed<seed>`. */
export function defaultRunDir(recipe: Recipe): string {
  const profile = recipe.profile === null ? "" : `-${recipe.profile}`;
  return `runs/${recipe.name}${profile}-seed${recipe.seed}`;
}

/** Stage seed: a 31-bit integer from the run seed and the stage's name (so adding a stage leaves the others' seeds). */
export function stageSeed(runSeed: number, stageName: string): number {
  return createHash("sha256").update(`${runSeed}\0${stageName}`).digest().readUInt32BE(0) & 0x7fffffff;
}
