import assert from "node:assert/strict";
import { after, test } from "node:test";
import { liveTensorCount, noGrad, setNumThreads, tensor, tidy } from "../../src/engine/index.js";
import { cachedStepper } from "../../src/models/batching.js";
import { encodeChat } from "../../src/models/chat-template.js";
import { type ContrastRequest, contrastLogits, generateContrastive } from "../../src/models/contrastive-decoding.js";
import { generate } from "../../src/models/generate.js";
import { bannedMask } from "../../src/models/sampling.js";
import { pattern, peakedVlm, tinyTokenizer } from "./peaked-vlm.js";

setNumThreads(1);

const tokenizer = tinyTokenizer();
const model = peakedVlm(tokenizer, 11);
after(() => model.dispose());

const prompt = (text: string) => [{ role: "user" as const, content: `<image> ${text}` }];
const requests = (contrast: (i: number) => Float32Array): ContrastRequest[] =>
  ["Describe the image.", "Is there a red circle?", "What is on the left?"].map((text, i) => ({
    image: pattern(i + 1),
    contrastImage: contrast(i),
    messages: prompt(text),
    seed: 100 + i,
  }));

test("contrasted logits by hand: (1 + α)·clean - α·contrast, below β of the clean maximum cut", () => {
  noGrad(() => {
    const clean = tensor([[2, 1, -1]]);
    const noisy = tensor([[0, 1, 3]]);
    // α = 1: 2·clean - noisy = [4, 1, -5]. β = 0.2: the cut-off is 2 + ln 0.2 = 0.391, so the
    // third token (clean logit -1) is masked, the second (1) kept.
    assert.deepEqual(contrastLogits(clean, noisy, { alpha: 1, beta: 0.2 }).toArray(), [4, 1, -Infinity]);
    // β = 0.5: the cut-off 2 + ln 0.5 = 1.307 masks the second token too.
    assert.deepEqual(contrastLogits(clean, noisy, { alpha: 1, beta: 0.5 }).toArray(), [4, -Infinity, -Infinity]);
    // α = 0.5: 1.5·clean - 0.5·noisy = [3, 1, -3]; β = 1 keeps the clean maximum only.
    assert.deepEqual(contrastLogits(clean, noisy, { alpha: 0.5, beta: 1 }).toArray(), [3, -Infinity, -Infinity]);
    // A banned token (the first) does not set the cut-off: the maximum is over the others (1),
    // so with β = 0.5 the cut-off is 1 - 0.693 = 0.307 and the third token is masked.
    const banned = tensor([[1, 0, 0]], "bool");
    assert.deepEqual(contrastLogits(clean, noisy, { alpha: 1, beta: 0.5 }, banned).toArray(), [4, 1, -Infinity]);
    for (const t of [clean, noisy, banned]) t.dispose();
  });
  assert.throws(() => contrastLogits(tensor([[0]]), tensor([[0]]), { alpha: -1, beta: 0.2 }), /alpha -1/);
  assert.throws(() => contrastLogits(tensor([[0]]), tensor([[0]]), { alpha: 1, beta: 0 }), /beta 0/);
});

test("α = 0 (and a cut-off that cuts nothing) samples exactly as plain decoding of the clean image", () => {
  const rs = requests((i) => pattern(50 + i));
  const params = { n: 2, temperature: 1, topP: 1, topK: 0, maxNewTokens: 8, stop: [], seed: 3 };
  const plain = generate(model, tokenizer, rs, params);
  const cd = generateContrastive(model, tokenizer, rs, params, { alpha: 0, beta: 1e-30 });
  assert.deepEqual(
    cd.map((r) => r.map((s) => s.tokenIds)),
    plain.map((r) => r.map((s) => s.tokenIds)),
  );
});

test("greedy with the contrast image equal to the clean one is plain greedy decoding (2a - a = a)", () => {
  const rs = requests((i) => pattern(i + 1));
  const params = { n: 1, temperature: 0, maxNewTokens: 10, stop: [], seed: 0 };
  const plain = generate(model, tokenizer, rs, params);
  const cd = generateContrastive(model, tokenizer, rs, params, { alpha: 1, beta: 0.2 });
  assert.deepEqual(
    cd.map((r) => r[0].tokenIds),
    plain.map((r) => r[0].tokenIds),
  );
});

test("the first greedy token is the argmax of the contrasted first-step logits", () => {
  const rs = requests((i) => pattern(90 + i));
  const options = { alpha: 3, beta: 0.05 };
  const before = liveTensorCount();
  const cd = generateContrastive(model, tokenizer, rs, { n: 1, temperature: 0, maxNewTokens: 4, stop: [] }, options);
  assert.equal(liveTensorCount(), before, "generateContrastive leaves no tensor behind");
  const prompts = rs.map(
    (r) =>
      encodeChat(tokenizer, r.messages, { numImageTokens: model.numImageTokens, addGenerationPrompt: true }).inputIds,
  );
  const rows = rs.map((_, i) => i);
  const pad = tokenizer.specialIds.pad;
  const clean = cachedStepper(
    model,
    pad,
    rs.map((r) => r.image),
  )(prompts, rows);
  const noisy = cachedStepper(
    model,
    pad,
    rs.map((r) => r.contrastImage),
  )(prompts, rows);
  const [a, b] = [clean.start(), noisy.start()];
  const banned = bannedMask(tokenizer, model.config.vocabSize);
  // Sampling never draws a banned token (pickTokens masks them), so neither does the reference.
  const expected = noGrad(() =>
    tidy(() => contrastLogits(a, b, options, banned).maskedFill(banned, -Infinity).argmax(-1).toArray()),
  );
  const plainFirst = noGrad(() => tidy(() => a.maskedFill(banned, -Infinity).argmax(-1).toArray()));
  for (const t of [a, b, banned]) t.dispose();
  clean.dispose();
  noisy.dispose();
  assert.deepEqual(
    cd.map((r) => r[0].tokenIds[0]),
    expected,
  );
  // The check has teeth: with α = 3 the contrast moves at least one request off the plain argmax.
  assert.ok(
    expected.some((id, i) => id !== plainFirst[i]),
    `contrast changed no first token (${expected} vs ${plainFirst})`,
  );
});

test("a request without an image, or with a contrast image of the wrong size, is refused", () => {
  const bad: ContrastRequest = { image: null, contrastImage: pattern(1), messages: [{ role: "user", content: "hi" }] };
  assert.throws(() => generateContrastive(model, tokenizer, [bad], {}, { alpha: 1, beta: 0.1 }), /needs an image/);
  const small: ContrastRequest = { ...requests(() => pattern(1))[0], contrastImage: new Float32Array(3) };
  assert.throws(
    () => generateContrastive(model, tokenizer, [small], {}, { alpha: 1, beta: 0.1 }),
    /contrastImage: expected a Float32Array of 3\*8\*8 = 192 values, got 3/,
  );
});
