// The embedded candidate generator inside the whole search, on the tiny peaked VLM with a
// scripted relevance scorer: keeping each node's KV cache gives the same paths as re-encoding
// every node (the released code's way), nothing is held once the search ends, no tensor leaks,
// and the end ids are the tokens holding the stop mark plus the answer's end tokens.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import type { ImageTextScorer } from "../../../src/backends/types.js";
import { liveTensorCount, setNumThreads } from "../../../src/engine/index.js";
import type { SearchPrompt } from "../../../src/methods/csr/candidates.js";
import { EmbeddedCandidateGenerator, sentenceEndIds } from "../../../src/methods/csr/embedded-candidates.js";
import { sentenceSearch } from "../../../src/methods/csr/search.js";
import { pattern, peakedVlm, tinyTokenizer } from "../../models/peaked-vlm.js";

setNumThreads(1);
const tokenizer = tinyTokenizer();
const model = peakedVlm(tokenizer, 11);
after(() => model.dispose());

// Relevance: the sentence's length in characters, so that siblings differ.
const scorer: ImageTextScorer = {
  name: "length",
  score: async (pairs) => pairs.map((p) => p.text.length),
  close: async () => {},
};

const prompts: SearchPrompt[] = [1, 2, 3].map((seed) => ({
  id: `img${seed}`,
  image: { bytes: new Uint8Array([seed]), mimeType: "image/png" },
  messages: [{ role: "user", content: "<image> Describe the image." }],
}));

function generator(cache: "kv" | "none") {
  return new EmbeddedCandidateGenerator(model, tokenizer, {
    proposal: { kind: "diverse-beam", beams: 3, groups: 3, returned: 3, diversityPenalty: 3 },
    maxSentenceTokens: 6,
    stopMark: ".",
    seed: 0,
    cache,
    // The bytes are a stand-in: the pattern of the prompt's own seed is the image.
    pixels: async (r) => pattern(r.prompt.image.bytes[0]),
  });
}

const options = {
  reward: { lambda: 0.9, mix: "paper" as const },
  keep: { best: 1, worst: 2 },
  selectBy: "reward" as const,
  maxCharacters: 80,
};

test("KV-cached nodes give the paths re-encoded nodes give, and nothing is held afterwards", async () => {
  const live = liveTensorCount();
  const cached = generator("kv");
  const a = await sentenceSearch(prompts, cached, scorer, options);
  assert.equal(cached.held, 0, "every node released");
  assert.equal(liveTensorCount(), live, "every cache freed");
  const b = await sentenceSearch(prompts, generator("none"), scorer, options);
  const paths = (r: typeof a) => r.map((p) => p.finished.map((f) => [f.response, f.finish]));
  assert.deepEqual(paths(a), paths(b));
  for (const [i, p] of a.entries())
    for (const [j, f] of p.finished.entries()) assert.ok(Math.abs(f.reward - b[i].finished[j].reward) < 1e-3);
  // Not trivial: every prompt finished several paths, some of more than one sentence.
  assert.ok(a.every((p) => p.finished.length >= 2));
  assert.ok(a.some((p) => p.finished.some((f) => f.relevance.length > 1)));
});

test("sentence end ids: the stop mark's tokens and the answer's end tokens", () => {
  const ids = sentenceEndIds(tokenizer, ".");
  assert.deepEqual(
    [...ids].sort((x, y) => x - y),
    [tokenizer.specialIds.eos, tokenizer.specialIds.end, tokenizer.idOf(".")].sort((x, y) => x - y),
  );
});

test("an unknown node with a prefix is an error naming it", async () => {
  await assert.rejects(
    generator("kv").expand([{ node: "img1.7", prompt: prompts[0], prefix: "a red circle." }]),
    /unknown node "img1.7"/,
  );
});
