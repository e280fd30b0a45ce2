import assert from "node:assert/strict";
import { after, test } from "node:test";
import { liveTensorCount, setNumThreads } from "../../src/engine/index.js";
import type { ChatMessage } from "../../src/models/chat-template.js";
import { type GenerateRequest, generate, generateNoCache, type Sample } from "../../src/models/generate.js";
import { scoreResponses } from "../../src/models/score.js";
import { pattern, peakedVlm, tinyTokenizer } from "./peaked-vlm.js";

setNumThreads(1);

const tokenizer = tinyTokenizer();
const model = peakedVlm(tokenizer, 11);
after(() => model.dispose());

const user = (content: string): ChatMessage[] => [{ role: "user", content }];
// Prompts of different lengths, with and without an image: the batch is left-padded.
const requests: GenerateRequest[] = [
  { image: pattern(1), messages: user("<image> Describe the image.") },
  { image: null, messages: user("What is on the left? Is there a yellow heart in the middle?") },
  { image: pattern(2), messages: user("<image> Is there a red circle?") },
];

function assertSameSamples(a: Sample[][], b: Sample[][], tol: number): void {
  assert.equal(a.length, b.length);
  a.forEach((row, i) => {
    row.forEach((s, j) => {
      const t = b[i][j];
      assert.deepEqual(s.tokenIds, t.tokenIds, `request ${i} sample ${j}`);
      assert.equal(s.text, t.text);
      assert.equal(s.finishReason, t.finishReason);
      s.logprobs.forEach((l, k) => {
        assert.ok(Math.abs(l - t.logprobs[k]) <= tol, `logprob ${i}/${j}/${k}: ${l} vs ${t.logprobs[k]}`);
      });
    });
  });
}

test("KV-cache sampling equals full recomputation: greedy, and seeded temperature 1 with top-k/top-p", () => {
  const live = liveTensorCount();
  const greedy = { temperature: 0, maxNewTokens: 12, n: 1 };
  const cached = generate(model, tokenizer, requests, greedy);
  assertSameSamples(cached, generateNoCache(model, tokenizer, requests, greedy), 1e-4);
  const sampled = { temperature: 1, topK: 8, topP: 0.9, maxNewTokens: 12, n: 3, seed: 7 };
  const a = generate(model, tokenizer, requests, sampled);
  assertSameSamples(a, generateNoCache(model, tokenizer, requests, sampled), 1e-4);
  assert.equal(liveTensorCount(), live, "no tensor leaks");
  // The samples are not trivial: some are longer than one token, n differ from each other.
  assert.ok(a.flat().some((s) => s.tokenIds.length > 2));
  assert.ok(a.some((row) => new Set(row.map((s) => s.tokenIds.join(","))).size > 1));
  for (const s of a.flat()) {
    assert.equal(s.logprobs.length, s.tokenIds.length);
    assert.ok(s.logprobs.every((l) => l <= 0 && Number.isFinite(l)));
    assert.ok(s.tokenIds.length <= 12);
    assert.equal(s.finishReason === "length", s.tokenIds.length === 12 && !isEnd(s.tokenIds.at(-1)));
  }
});

function isEnd(id: number | undefined): boolean {
  return id === tokenizer.specialIds.end || id === tokenizer.specialIds.eos;
}

test("top-k 1 and a tiny top-p equal greedy; structural tokens are never sampled", () => {
  const greedy = generate(model, tokenizer, requests, { temperature: 0, maxNewTokens: 8 });
  const topOne = generate(model, tokenizer, requests, { temperature: 1.5, topK: 1, maxNewTokens: 8, seed: 3 });
  assertSameSamples(greedy, topOne, 1e-6);
  // A nucleus smaller than the top token's mass keeps only it: greedy again.
  const tinyNucleus = generate(model, tokenizer, requests, { temperature: 1.5, topP: 1e-6, maxNewTokens: 8, seed: 4 });
  assertSameSamples(greedy, tinyNucleus, 1e-6);
  // Tokens never sampled: pad, bos, image, user, assistant.
  const s = tokenizer.specialIds;
  const many = generate(model, tokenizer, requests, { temperature: 2, maxNewTokens: 20, n: 4, seed: 1 });
  for (const sample of many.flat()) {
    for (const id of sample.tokenIds) assert.ok(![s.pad, s.bos, s.image, s.user, s.assistant].includes(id));
  }
});

test("teacher-forced scores equal the log-probs returned while generating, in left-padded batches", () => {
  const samples = generate(model, tokenizer, requests, { temperature: 1, topP: 0.95, maxNewTokens: 10, n: 2, seed: 5 });
  const items = samples.flatMap((row, i) =>
    row.map((s) => ({
      image: requests[i].image,
      messages: [...requests[i].messages, { role: "assistant" as const, content: s.text }],
      responseIds: s.tokenIds,
    })),
  );
  // Different lengths in one batch (left-padded) and in batches of 1 (unpadded) agree too.
  for (const batchSize of [16, 1, 4]) {
    const scored = scoreResponses(model, tokenizer, items, { batchSize });
    samples.flat().forEach((s, k) => {
      assert.deepEqual(scored[k].tokenIds, s.tokenIds);
      s.logprobs.forEach((l, j) => {
        assert.ok(Math.abs(l - scored[k].logprobs[j]) < 1e-4, `item ${k} token ${j}: ${l} vs ${scored[k].logprobs[j]}`);
      });
    });
  }
  // From the messages alone, the response is its content and the closing <|end|>.
  const [fromText] = scoreResponses(model, tokenizer, [
    { image: requests[0].image, messages: [...requests[0].messages, { role: "assistant", content: "A red circle." }] },
  ]);
  assert.deepEqual(fromText.tokenIds, [...tokenizer.encode("a red circle."), tokenizer.specialIds.end]);
  assert.equal(fromText.logprobs.length, fromText.tokenIds.length);
});

test("same seed gives the same samples, another seed different ones", () => {
  const params = { temperature: 1, maxNewTokens: 10, n: 3 };
  const a = generate(model, tokenizer, requests, { ...params, seed: 42 });
  const b = generate(model, tokenizer, requests, { ...params, seed: 42 });
  const c = generate(model, tokenizer, requests, { ...params, seed: 43 });
  assertSameSamples(a, b, 0);
  const ids = (x: Sample[][]) => JSON.stringify(x.map((r) => r.map((s) => s.tokenIds)));
  assert.notEqual(ids(a), ids(c));
  // A request's samples do not depend on the other requests of the call.
  const alone = generate(model, tokenizer, [requests[0]], { ...params, seed: 42 });
  assertSameSamples(alone, [a[0]], 1e-5);
});

test("a request with its own seed samples as it would alone with that seed, inside any batch", () => {
  const params = { temperature: 1, maxNewTokens: 10, n: 2 };
  const seeded = requests.map((r, i) => ({ ...r, seed: 100 + i }));
  const batched = generate(model, tokenizer, seeded, { ...params, seed: 7 });
  seeded.forEach((r, i) => {
    const alone = generate(model, tokenizer, [{ ...r, seed: undefined }], { ...params, seed: 100 + i });
    assertSameSamples(alone, [batched[i]], 1e-5);
  });
  // The call's seed no longer matters for seeded requests, and it still does for the others.
  const otherCallSeed = generate(model, tokenizer, seeded, { ...params, seed: 8 });
  assertSameSamples(otherCallSeed, batched, 0);
  assert.throws(() => generate(model, tokenizer, [{ ...requests[0], seed: -1 }], params), /requests\[0\]\.seed/);
});

test("onToken sees every generated token of every row, in order, as it is drawn", () => {
  const seen = new Map<string, { ids: number[]; logprobs: number[] }>();
  const params = { temperature: 1, maxNewTokens: 8, n: 2, seed: 5 };
  const out = generate(model, tokenizer, requests, params, (request, sample, id, logprob) => {
    const key = `${request}/${sample}`;
    const entry = seen.get(key) ?? { ids: [], logprobs: [] };
    entry.ids.push(id);
    entry.logprobs.push(logprob);
    seen.set(key, entry);
  });
  assert.equal(seen.size, requests.length * 2);
  out.forEach((samples, i) => {
    samples.forEach((s, j) => {
      assert.deepEqual(seen.get(`${i}/${j}`)?.ids, s.tokenIds);
      assert.deepEqual(seen.get(`${i}/${j}`)?.logprobs, s.logprobs);
    });
  });
});

test("stop strings cut the text before them and finish with reason stop", () => {
  const params = { temperature: 1, maxNewTokens: 16, seed: 9 };
  const free = generate(model, tokenizer, requests, params).map((r) => r[0]);
  for (const s of free) assert.equal(s.stopString, null, "no stop strings asked: none matched");
  // Choose, per request, a word the unconstrained sample produces after its first word.
  const target = free.find((s) => s.text.split(" ").length >= 3);
  assert.ok(target, "some sample has 3 words");
  const word = target.text.split(" ")[2];
  const stopped = generate(model, tokenizer, requests, { ...params, stop: [word, "zzz never"] }).map((r) => r[0]);
  stopped.forEach((s, i) => {
    const at = free[i].text.indexOf(word);
    if (at < 0) {
      assert.deepEqual(s, free[i]);
      return;
    }
    assert.equal(s.text, free[i].text.slice(0, at));
    assert.equal(s.finishReason, "stop");
    assert.equal(s.stopString, word, "the stop string it ended on");
    // The tokens stop with the one that completed the stop string; they prefix the free run.
    assert.deepEqual(s.tokenIds, free[i].tokenIds.slice(0, s.tokenIds.length));
    assert.ok(s.tokenIds.length < free[i].tokenIds.length || free[i].finishReason === "length");
    assert.ok(tokenizer.decode(s.tokenIds, { skipSpecial: true }).includes(word));
  });
});

test("includeStopStr keeps the stop string; assistantPrefix continues a partial answer", () => {
  const params = { temperature: 1, maxNewTokens: 16, seed: 9 };
  const free = generate(model, tokenizer, [requests[0]], params)[0][0];
  const words = free.text.split(" ");
  assert.ok(words.length >= 3, free.text);
  const [kept] = generate(model, tokenizer, [requests[0]], { ...params, stop: [words[1]], includeStopStr: true })[0];
  assert.ok(kept.text.endsWith(words[1]) && free.text.startsWith(kept.text), kept.text);
  // Greedy: continuing from the first two answer tokens gives the rest of the greedy answer.
  const greedy = generate(model, tokenizer, requests, { temperature: 0, maxNewTokens: 10 }).map((r) => r[0]);
  const special = (id: number) => id < 8;
  const target = greedy.findIndex((g) => g.tokenIds.length >= 4 && !g.tokenIds.slice(0, 2).some(special));
  assert.ok(target >= 0, "a greedy answer starts with two ordinary words");
  const g = greedy[target];
  const prefix = tokenizer.decode(g.tokenIds.slice(0, 2));
  const [[rest]] = generate(model, tokenizer, [{ ...requests[target], assistantPrefix: prefix }], {
    temperature: 0,
    maxNewTokens: 8,
  });
  assert.deepEqual(rest.tokenIds, g.tokenIds.slice(2));
  g.logprobs.slice(2).forEach((l, j) => {
    assert.ok(Math.abs(l - rest.logprobs[j]) < 1e-4);
  });
});

test("maxNewTokens gives finishReason length; bad requests are clear errors", () => {
  const [[s]] = generate(model, tokenizer, [requests[0]], { temperature: 0, maxNewTokens: 1 });
  assert.equal(s.tokenIds.length, 1);
  assert.equal(s.finishReason, isEnd(s.tokenIds[0]) ? "stop" : "length");
  assert.throws(
    () => generate(model, tokenizer, [{ ...requests[0], image: null }], {}),
    /<image> marker but image is null/,
  );
  assert.throws(() => generate(model, tokenizer, [{ ...requests[1], image: pattern(1) }], {}), /no <image> marker/);
  assert.throws(
    () => generate(model, tokenizer, [{ ...requests[0], image: new Float32Array(5) }], {}),
    /requests\[0\]\.image/,
  );
  assert.throws(() => generate(model, tokenizer, requests, { topP: 0 }), /sampling\.topP/);
  assert.throws(() => generate(model, tokenizer, requests, { n: 0 }), /sampling\.n/);
  assert.throws(
    () => scoreResponses(model, tokenizer, [{ image: null, messages: user("hi") }]),
    /must end with the assistant/,
  );
});
