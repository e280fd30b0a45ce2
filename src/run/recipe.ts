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
// Paths (world.config, world.dir, model) are relative to the working directory, like every
// command's flags.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { BENCH_NAMES } from "../eval/benches.js";
import { EVAL_SPLITS } from "../eval/world-benches.js";
import { describeIssues, formatPath } from "../util/zod-issues.js";
import { checkOneMode, modeFields } from "./inference-mode.js";
import { type StageConfig, stageKinds } from "./stage-kind.js";

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

export interface Recipe {
  name: string;
  /** The profiles merged in, joined by "+" ("paper+validation"), or null. */
  profile: string | null;
  seed: number;
  threads: number;
  world: { config: string; dir: string };
  model: string;
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
    k.schema.extend({ name: name(), type: z.literal(k.type), evaluate: z.boolean().optional() }).strict(),
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
      world: z.object({ config: z.string().min(1), dir: z.string().min(1) }).strict(),
      model: z.string().min(1),
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
    });
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
    world: r.world,
    model: r.model,
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
