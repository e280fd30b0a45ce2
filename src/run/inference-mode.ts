// Inference modes: how evaluation asks a model. A method may register a mode that wraps the
// VisionLanguageModel (STIC's describe-then-answer describes the image before answering); a
// recipe's eval block and the `eval` command switch it on and pass its options, validated by the
// mode's own schema. As the recipe's stage fields come from the stage kinds, the eval block's
// mode fields come from this registry: a mode named `describe-first` is switched on by
// `describeFirst: true` (`--describe-first`), and its options are fields of the block beside the
// switch, each with its default. Registration is explicit (nothing registers itself at import).
import { z } from "zod";
import type { VisionLanguageModel } from "../backends/types.js";
import type { BenchName } from "../eval/benches.js";

export interface InferenceMode<S extends z.ZodObject = z.ZodObject> {
  /** Lower-case words joined by '-'; its camelCase form is the switch (`describeFirst`). */
  name: string;
  /** One line: the switch's help. */
  description: string;
  /** The mode's options, every one with a default: fields of the eval block beside the switch. */
  options: S;
  /** Command-line flags of options whose flag is not their kebab-case name (to keep old command lines). */
  flags?: Partial<Record<keyof S["shape"] & string, string>>;
  /** Benches asked plainly even in this mode (describe-then-answer: CHAIR, whose prompt is itself a description request). */
  plainBenches?: readonly BenchName[];
  /** The model as the mode asks it. The wrapper holds nothing of its own: close the model you opened. */
  wrap(model: VisionLanguageModel, options: z.output<S>): VisionLanguageModel;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry holds modes of every schema
type AnyInferenceMode = InferenceMode<any>;

const registry = new Map<string, AnyInferenceMode>();

/** Identity, to infer a mode's option types from its schema at the definition. */
export function defineInferenceMode<S extends z.ZodObject>(mode: InferenceMode<S>): InferenceMode<S> {
  return mode;
}

/** `describe-first` → `describeFirst`: the mode's switch in an eval block. */
export const modeSwitch = (mode: { name: string }): string =>
  mode.name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Adds a mode; the same object twice is a no-op; a taken name or a field another mode has is an error. */
export function registerInferenceMode<S extends z.ZodObject>(mode: InferenceMode<S>): void {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(mode.name)) {
    throw new Error(`inference mode '${mode.name}': use lower-case words of letters and digits joined by '-'`);
  }
  const existing = registry.get(mode.name);
  if (existing === mode) return;
  if (existing !== undefined) throw new Error(`inference mode '${mode.name}' is already registered`);
  const taken = new Set(Object.keys(modeFields()));
  for (const field of [modeSwitch(mode), ...Object.keys(mode.options.shape)]) {
    if (taken.has(field)) throw new Error(`inference mode '${mode.name}': field '${field}' belongs to another mode`);
  }
  for (const [field, schema] of Object.entries(mode.options.shape)) {
    if (!(schema as z.ZodType).safeParse(undefined).success)
      throw new Error(`inference mode '${mode.name}': option '${field}' needs a default`);
  }
  registry.set(mode.name, mode as AnyInferenceMode);
}

/** Registered modes, in registration order. */
export function inferenceModes(): AnyInferenceMode[] {
  return [...registry.values()];
}

/** Every registered mode's eval-block fields: its switch (default off), then its options. */
export function modeFields(): Record<string, z.ZodType> {
  const fields: Record<string, z.ZodType> = {};
  for (const mode of registry.values()) {
    fields[modeSwitch(mode)] = z.boolean().default(false).describe(mode.description);
    Object.assign(fields, mode.options.shape);
  }
  return fields;
}

/** For superRefine over validated mode fields: at most one switch on. */
export function checkOneMode(values: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const on = inferenceModes().filter((m) => values[modeSwitch(m)] === true);
  if (on.length > 1) {
    ctx.addIssue({
      code: "custom",
      path: [modeSwitch(on[1])],
      message: `${on.map(modeSwitch).join(" and ")} each switch an inference mode on; choose one`,
    });
  }
}

/** The mode switched on, bound to its options. */
export interface SelectedMode {
  name: string;
  /** Whether `bench` (a world bench, or a file bench: "pope", "chair") is asked through the mode (else plainly). */
  asks(bench: string): boolean;
  wrap(model: VisionLanguageModel): VisionLanguageModel;
}

/** The mode switched on in validated mode fields (an eval block, the eval command's flags), or null: ask plainly. */
export function selectedMode(values: Record<string, unknown>): SelectedMode | null {
  const mode = inferenceModes().find((m) => values[modeSwitch(m)] === true);
  if (mode === undefined) return null;
  const options = Object.fromEntries(Object.keys(mode.options.shape).map((k) => [k, values[k]]));
  return {
    name: mode.name,
    asks: (bench) => !((mode.plainBenches ?? []) as readonly string[]).includes(bench),
    wrap: (model) => mode.wrap(model, options),
  };
}
