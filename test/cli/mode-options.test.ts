import assert from "node:assert/strict";
import { test } from "node:test";
import { Command } from "commander";
import { z } from "zod";
import type { VisionLanguageModel } from "../../src/backends/types.js";
import { addModeOptions } from "../../src/cli/mode-options.js";
import { defineInferenceMode, registerInferenceMode } from "../../src/run/inference-mode.js";
import { FakeModel } from "../run/kinds.js";

registerInferenceMode(
  defineInferenceMode({
    name: "tag-answers",
    description: "test: the wrapped model's name carries the tag",
    options: z.object({
      tagSet: z.enum(["a", "b"]).default("a").describe("which tag"),
      tagRepeat: z.number().int().min(1).default(2),
      tagLoud: z.boolean().default(false),
    }),
    flags: { tagSet: "--tags" },
    wrap: (model, o): VisionLanguageModel =>
      Object.assign(Object.create(model), { name: `${o.tagLoud ? "!" : ""}${o.tagSet.repeat(o.tagRepeat)}` }),
  }),
);

/** The mode the flags select, applied to a model named "m" (null: none). */
function parse(args: string[]): string | null {
  const command = new Command("eval").exitOverride().configureOutput({ writeErr: () => {} });
  const read = addModeOptions(command);
  command.parse(args, { from: "user" });
  return read(command.opts())?.wrap(new FakeModel("m", [])).name ?? null;
}

test("a switch per mode, a flag per option (kebab-case, or the mode's own name), defaults from the schema", () => {
  assert.equal(parse([]), null);
  assert.equal(parse(["--tag-answers"]), "aa");
  assert.equal(parse(["--tag-answers", "--tags", "b", "--tag-repeat", "3"]), "bbb");
  assert.equal(parse(["--tag-answers", "--tag-loud"]), "!aa");
  const help = new Command("eval");
  addModeOptions(help);
  assert.match(help.helpInformation(), /--tags <name>\s+which tag \(choices: "a", "b", default: "a"\)/);
  assert.match(help.helpInformation(), /--tag-repeat <n>.*\(default: 2\)/);
});

test("a bad value is refused by the mode's schema, naming the flag", () => {
  assert.throws(
    () => parse(["--tag-answers", "--tag-repeat", "0"]),
    /^Error: --tag-repeat: expected a number >= 1, got 0$/,
  );
  assert.throws(() => parse(["--tag-repeat", "two"]), /--tag-repeat: expected a number, got NaN/);
  assert.throws(() => parse(["--tags", "c"]), /Allowed choices are a, b/);
});
