// The eval command's flags for the registered inference modes (src/run/inference-mode.ts): a
// switch per mode (`--describe-first`) and a flag per option (its kebab-case name, or the one
// the mode names: `--describe-prompts`), with the choices and defaults of the mode's schema. The
// values then go through the same fields a recipe's eval block has, so both resolve alike.
import { type Command, Option } from "commander";
import { z } from "zod";
import {
  checkOneMode,
  inferenceModes,
  modeFields,
  modeSwitch,
  type SelectedMode,
  selectedMode,
} from "../run/inference-mode.js";
import { issueMessage, unwrapSchema } from "../util/zod-issues.js";

const kebab = (field: string) => field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** A flag for one option, typed by its schema (commander hands over strings). */
function optionFor(flag: string, schema: z.ZodType): Option {
  const type: string = unwrapSchema(schema)._zod.def.type;
  const help = schema.description ?? "";
  if (type === "boolean") return new Option(flag, help);
  const placeholder = { enum: "<name>", number: "<n>", string: "<value>" }[type];
  if (placeholder === undefined)
    throw new Error(`${flag}: the command line takes enum, number, boolean and string options, not ${type}`);
  const option = new Option(`${flag} ${placeholder}`, help).default(schema.parse(undefined));
  if (type === "enum") return option.choices(unwrapSchema(schema).options as string[]);
  return type === "number" ? option.argParser(Number) : option;
}

/**
 * Adds every registered mode's flags to `command`; the function returned reads the parsed flags
 * back as the mode switched on (null: none), and names the flag of a bad value.
 */
export function addModeOptions(command: Command): (values: Record<string, unknown>) => SelectedMode | null {
  const flags: { field: string; option: Option }[] = [];
  for (const mode of inferenceModes()) {
    flags.push({ field: modeSwitch(mode), option: new Option(`--${mode.name}`, mode.description) });
    for (const [field, schema] of Object.entries(mode.options.shape)) {
      flags.push({ field, option: optionFor(mode.flags?.[field] ?? `--${kebab(field)}`, schema as z.ZodType) });
    }
  }
  for (const { option } of flags) command.addOption(option);
  return (values) => {
    const fields = Object.fromEntries(flags.map(({ field, option }) => [field, values[option.attributeName()]]));
    const parsed = z.object(modeFields()).superRefine(checkOneMode).safeParse(fields, { reportInput: true });
    if (parsed.success) return selectedMode(parsed.data);
    const flagOf = new Map(flags.map(({ field, option }) => [field, option.long]));
    throw new Error(parsed.error.issues.map((i) => `${flagOf.get(String(i.path[0]))}: ${issueMessage(i)}`).join("\n"));
  };
}
