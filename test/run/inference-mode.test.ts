import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import type { VisionLanguageModel } from "../../src/backends/types.js";
import {
  defineInferenceMode,
  inferenceModes,
  modeSwitch,
  registerInferenceMode,
  selectedMode,
} from "../../src/run/inference-mode.js";
import { evalConfigSchema } from "../../src/run/recipe.js";
import { FakeModel } from "./kinds.js";

/** A mode that renames the model it wraps, so a test sees which options reached it. */
const tagged = defineInferenceMode({
  name: "tag-answers",
  description: "test: the wrapped model's name carries the tag",
  options: z.object({ tag: z.enum(["a", "b"]).default("a"), tagRepeat: z.number().int().min(1).default(2) }),
  plainBenches: ["chair"],
  wrap: (model, o): VisionLanguageModel => Object.assign(Object.create(model), { name: o.tag.repeat(o.tagRepeat) }),
});
const other = defineInferenceMode({
  name: "other-mode",
  description: "test: a second mode",
  options: z.object({}),
  wrap: (model) => model,
});
registerInferenceMode(tagged);
registerInferenceMode(other);

test("a mode's switch is its name in camelCase; registering the same mode again changes nothing", () => {
  assert.equal(modeSwitch(tagged), "tagAnswers");
  assert.equal(modeSwitch({ name: "describe-first" }), "describeFirst");
  registerInferenceMode(tagged);
  assert.deepEqual(
    inferenceModes().map((m) => m.name),
    ["tag-answers", "other-mode"],
  );
});

test("registration refuses a bad name, a taken name, another mode's field and an option without default", () => {
  const mode = (name: string, options: z.ZodObject) => defineInferenceMode({ ...other, name, options });
  assert.throws(() => registerInferenceMode(mode("Tag", z.object({}))), /lower-case words/);
  assert.throws(() => registerInferenceMode(mode("tag-answers", z.object({}))), /already registered/);
  assert.throws(
    () => registerInferenceMode(mode("third", z.object({ tag: z.string().default("x") }))),
    /field 'tag' belongs to another mode/,
  );
  assert.throws(
    () => registerInferenceMode(mode("fourth", z.object({ level: z.number() }))),
    /option 'level' needs a default/,
  );
});

test("the eval block gets every mode's switch and options with their defaults; one mode at most", () => {
  const schema = evalConfigSchema();
  const plain = schema.parse({});
  assert.deepEqual(
    { tagAnswers: plain.tagAnswers, tag: plain.tag, tagRepeat: plain.tagRepeat, otherMode: plain.otherMode },
    { tagAnswers: false, tag: "a", tagRepeat: 2, otherMode: false },
  );
  assert.equal(selectedMode(plain), null);
  assert.throws(() => schema.parse({ tagAnswers: true, otherMode: true }), /tagAnswers and otherMode each switch/);
  assert.throws(() => schema.parse({ tag: "c" }));
});

test("selectedMode binds the validated options and says which benches it asks", () => {
  const mode = selectedMode(evalConfigSchema().parse({ tagAnswers: true, tag: "b", tagRepeat: 3 }));
  assert.ok(mode !== null);
  assert.equal(mode.name, "tag-answers");
  assert.equal(mode.wrap(new FakeModel("m", [])).name, "bbb");
  assert.equal(mode.asks("pope-random"), true);
  assert.equal(mode.asks("chair"), false, "a plain bench of the mode");
});
