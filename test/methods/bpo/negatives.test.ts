// BPO's pairs for a chunk of items, against a hashing fake backend: what each generator asks the
// model, the records and their provenance, the drops, and pairs that do not depend on chunking.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import type { GeneratedSample, GenerationParams, GenerationRequest } from "../../../src/backends/types.js";
import { decodeImage } from "../../../src/images/codec.js";
import { DEFAULT_RULES } from "../../../src/methods/bpo/filters.js";
import { descriptionRewritePrompt, qaRewritePrompt } from "../../../src/methods/bpo/injection.js";
import {
  type BpoPairOptions,
  bpoPairs,
  type InjectionConfig,
  type PairItem,
  type WeakeningConfig,
} from "../../../src/methods/bpo/negatives.js";
import type { Positive } from "../../../src/methods/bpo/positives.js";
import { FakeVlm, testImage } from "../stic/fake-vlm.js";

const injection: InjectionConfig = {
  mode: "prior-continuation",
  temperature: 0.8,
  topP: 0.95,
  maxTokens: 64,
  cut: { min: 0.5, max: 0.5 },
  imageless: "withhold",
};
const weakening: WeakeningConfig = {
  t: 900,
  temperature: 0.2,
  topP: 1,
  maxTokens: 64,
  decoding: "noisy",
  contrast: { alpha: 1, beta: 0.2 },
  normalize: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
};
const options = (over: Partial<BpoPairOptions> = {}): BpoPairOptions => ({
  stage: "bpo",
  seed: 4,
  injection,
  weakening,
  rules: DEFAULT_RULES,
  ...over,
});

const positive = (i: number, answer: string, style: Positive["style"] = "description"): Positive => ({
  id: `s${i}/description`,
  imagePath: `images/${String(i).repeat(64).slice(0, 64)}.png`,
  prompt: [
    { role: "user", content: style === "qa" ? "<image>\nIs there a star?" : "<image>\nDescribe this image in detail." },
  ],
  answer,
  style,
  source: `instruction-s00000${i}`,
});

const items: PairItem[] = [];
before(async () => {
  const answers = [
    "A large red star in the middle and a small ring.",
    "Two blue hearts at the top left.",
    "A crescent.",
  ];
  for (const [i, answer] of answers.entries()) {
    const p = positive(i, answer);
    const image = await testImage(i, 16);
    for (const generator of ["injection", "weakening"] as const)
      items.push({ id: `${p.id}/${generator}`, generator, positive: p, image });
  }
});

test("prior-continuation and weakening: what each asks, and the pairs' records", async () => {
  const fake = new FakeVlm();
  const result = await bpoPairs(fake, items, options());
  assert.deepEqual(result.dropped, []);
  assert.deepEqual(
    result.records.map((r) => r.id),
    items.map((i) => i.id),
  );
  assert.equal(fake.calls.length, 2, "one call per generator");
  const [inj, weak] = fake.calls;
  // Injection: text only, the cut answer as the start of the answer, the paper's sampling.
  assert.deepEqual([inj.params.temperature, inj.params.topP, inj.params.maxTokens], [0.8, 0.95, 64]);
  assert.deepEqual(inj.requests[0].images, []);
  assert.deepEqual(inj.requests[0].messages, [{ role: "user", content: "Describe this image in detail." }]);
  // 11 words at 0.5: floor(5.5), the first 5.
  assert.equal(inj.requests[0].assistantPrefix, "A large red star in");
  // Weakening: the positive's prompt, a noised image of the same size, temperature 0.2.
  assert.deepEqual([weak.params.temperature, weak.params.topP], [0.2, 1]);
  assert.deepEqual(weak.requests[0].messages, items[1].positive.prompt);
  const noised = await decodeImage(weak.requests[0].images[0].bytes);
  const clean = await decodeImage(items[1].image.bytes);
  assert.deepEqual([noised.width, noised.height], [16, 16]);
  assert.notDeepEqual(noised.data, clean.data);

  const [first, second] = result.records;
  assert.equal(first.chosen, items[0].positive.answer);
  assert.ok(first.rejected.startsWith("A large red star in answer "), first.rejected);
  assert.deepEqual(first.images, [items[0].positive.imagePath]);
  assert.deepEqual(first.prompt, items[0].positive.prompt);
  assert.deepEqual(first.provenance.reasons, [
    "negative:injection:prior-continuation",
    "type:llm-hal",
    "positive:description",
  ]);
  assert.deepEqual(first.provenance.sampling, {
    mode: "prior-continuation",
    temperature: 0.8,
    top_p: 0.95,
    max_tokens: 64,
    imageless: "withhold",
    cut_words: 5,
  });
  assert.equal(first.provenance.source, "instruction-s000000");
  assert.deepEqual(second.provenance.reasons, ["negative:weakening:noisy", "type:mllm-hal", "positive:description"]);
  assert.equal(second.provenance.sampling?.t, 900);
  assert.ok(Number(second.provenance.sampling?.clipped) > 0.05, "at t = 900 part of the image clips");
});

test("an item's pair does not depend on its chunk: noise and cuts are drawn per positive", async () => {
  const whole = await bpoPairs(
    new FakeVlm(),
    items,
    options({ injection: { ...injection, cut: { min: 0.2, max: 0.8 } } }),
  );
  const alone = [];
  for (let i = items.length - 2; i >= 0; i -= 2) {
    const r = await bpoPairs(
      new FakeVlm(),
      items.slice(i, i + 2),
      options({ injection: { ...injection, cut: { min: 0.2, max: 0.8 } } }),
    );
    alone.unshift(...r.records);
  }
  assert.deepEqual(alone, whole.records);
  // Another stage seed gives other negatives.
  const other = await bpoPairs(new FakeVlm(), items, options({ seed: 5 }));
  assert.notDeepEqual(
    other.records.map((r) => r.rejected),
    whole.records.map((r) => r.rejected),
  );
});

test("drops: identical, near-duplicate, a repeated negative of the same positive, too long, empty", async () => {
  const answers = new Map<string, string>([
    ["s0/description/weakening", "a large red star, in the middle and a small ring"], // identical once normalized
    ["s1/description/weakening", "There are two blue hearts at the top left."], // near-duplicate
    ["s2/description/injection", "A ring."],
    ["s2/description/weakening", "a ring"], // the same as this positive's other negative
  ]);
  const fake = new FakeVlm("fake:rewrites", (r) => answers.get(r.id ?? ""));
  const rewrite = options({ injection: { ...injection, mode: "rewrite" } });
  const result = await bpoPairs(fake, items, rewrite);
  assert.deepEqual(result.dropped, [
    { itemId: "s0/description/weakening", reason: "identical" },
    { itemId: "s1/description/weakening", reason: "near-duplicate" },
    { itemId: "s2/description/weakening", reason: "duplicate-negative" },
  ]);
  assert.deepEqual(
    result.records.map((r) => r.id),
    ["s0/description/injection", "s1/description/injection", "s2/description/injection"],
  );
  // Rewrite mode: one text-only request with the description prompt.
  assert.deepEqual(fake.calls[0].requests[0].images, []);
  assert.equal(fake.calls[0].requests[0].messages[0].content, descriptionRewritePrompt(items[0].positive.answer));
  assert.equal(result.records[2].rejected, "A ring.");

  const long = new FakeVlm("fake:long", (r) => (r.id?.endsWith("injection") ? "ring ".repeat(351) : ""));
  const dropped = await bpoPairs(long, items.slice(0, 2), options());
  assert.deepEqual(dropped.dropped, [
    { itemId: "s0/description/injection", reason: "negative-too-long" },
    { itemId: "s0/description/weakening", reason: "empty-negative" },
  ]);
});

test("a continuation that adds nothing is an empty negative, not a truncated positive", async () => {
  const fake = new FakeVlm("fake:silent", (r) => (r.id?.endsWith("injection") ? "" : undefined));
  const result = await bpoPairs(fake, items.slice(0, 2), options());
  assert.deepEqual(result.dropped, [{ itemId: "s0/description/injection", reason: "empty-negative" }]);
});

/** A fake whose answers for ids ending in `/weakening` stop on the token limit. */
class TruncatingVlm extends FakeVlm {
  override async generate(requests: GenerationRequest[], params: GenerationParams): Promise<GeneratedSample[][]> {
    const out = await super.generate(requests, params);
    return out.map((s, i) =>
      requests[i].id?.endsWith("weakening") ? [{ ...s[0], finishReason: "length" as const }] : s,
    );
  }
}

test("negatives cut by the token limit are dropped unless dropTruncated is off", async () => {
  const cut = await bpoPairs(new TruncatingVlm(), items.slice(0, 2), options());
  assert.deepEqual(cut.dropped, [{ itemId: "s0/description/weakening", reason: "negative-truncated" }]);
  const kept = await bpoPairs(
    new TruncatingVlm(),
    items.slice(0, 2),
    options({ rules: { ...DEFAULT_RULES, dropTruncated: false } }),
  );
  assert.equal(kept.records.length, 2);
});

test("QA positives get the QA rewrite prompt; a generator that is off is refused", async () => {
  const p = positive(9, "Yes.", "qa");
  const item: PairItem = { id: `${p.id}/injection`, generator: "injection", positive: p, image: items[0].image };
  const fake = new FakeVlm();
  await bpoPairs(fake, [item], options({ injection: { ...injection, mode: "rewrite" } }));
  assert.equal(fake.calls[0].requests[0].messages[0].content, qaRewritePrompt("Is there a star?", "Yes."));
  await assert.rejects(bpoPairs(fake, [item], options({ injection: false })), /the injection generator is off/);
});
