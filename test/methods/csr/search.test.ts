// CSR's sentence-level search and its pairs on a scripted candidate generator and a scripted
// relevance scorer: which nodes are kept, released, finished, and which paths become the pair,
// each worked out by hand below.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ImageTextPair, ImageTextScorer } from "../../../src/backends/types.js";
import type {
  CandidateGenerator,
  CandidateSentence,
  ExpandRequest,
  SearchPrompt,
} from "../../../src/methods/csr/candidates.js";
import { csrRecord, relevanceSummary } from "../../../src/methods/csr/records.js";
import { type SearchOptions, sentenceSearch } from "../../../src/methods/csr/search.js";

type Script = Record<string, { sentence: string; relevance: number; lm: number; final: boolean }[]>;

// Level 1, from the root "p": three fluent sentences (relevance 30, 10, 20) and one too short.
// Level 2: "p.0" ends with relevance 40 or 0; "p.1" ends right away (a candidate that is only
// the end token) or with relevance 5; "p.2" ends with 25.
const SCRIPT: Script = {
  p: [
    { sentence: "alpha one.", relevance: 30, lm: -1, final: false },
    { sentence: "beta two.", relevance: 10, lm: -0.5, final: false },
    { sentence: "gamma three.", relevance: 20, lm: -3, final: false },
    { sentence: "x.", relevance: 99, lm: 0, final: false },
  ],
  "p.0": [
    { sentence: "delta four.", relevance: 40, lm: -1, final: true },
    { sentence: "eps five.", relevance: 0, lm: -1, final: true },
  ],
  "p.1": [
    { sentence: "", relevance: Number.NaN, lm: -1, final: true }, // only the answer's end
    { sentence: "zeta six.", relevance: 5, lm: -1, final: true },
  ],
  "p.2": [{ sentence: "eta seven.", relevance: 25, lm: -1, final: true }],
};

class ScriptedGenerator implements CandidateGenerator {
  readonly name = "scripted";
  readonly requests: ExpandRequest[][] = [];
  readonly released = new Set<string>();
  closed = false;
  async expand(requests: readonly ExpandRequest[]): Promise<CandidateSentence[][]> {
    this.requests.push([...requests]);
    return requests.map((r) =>
      (SCRIPT[r.node] ?? []).map((c, j) => ({
        node: `${r.node}.${j}`,
        sentence: c.sentence,
        response: r.prefix === "" ? c.sentence : `${r.prefix} ${c.sentence}`,
        logprobs: [-0.1],
        lmScore: c.lm,
        finish: c.final ? "end" : "sentence",
        final: c.final,
      })),
    );
  }
  release(nodes: readonly string[]): void {
    for (const n of nodes) this.released.add(n);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const relevanceOf = new Map(Object.values(SCRIPT).flatMap((cs) => cs.map((c) => [c.sentence, c.relevance] as const)));
const scorer: ImageTextScorer = {
  name: "scripted",
  score: async (pairs: ImageTextPair[]) => pairs.map((p) => relevanceOf.get(p.text) ?? Number.NaN),
  close: async () => {},
};

const prompt: SearchPrompt = {
  id: "p",
  image: { bytes: new Uint8Array([1, 2, 3]), mimeType: "image/png" },
  messages: [{ role: "user", content: "<image>\nDescribe this image in detail." }],
};

// lambda 1: the reward is the clamped relevance alone, so every figure below is a sum of them.
const options: SearchOptions = {
  reward: { lambda: 1, mix: "paper" },
  keep: { best: 1, worst: 1 },
  selectBy: "reward",
  maxCharacters: 1000,
};

test("the search keeps each level's best and worst, releases the rest, and pairs the extreme paths", async () => {
  const generator = new ScriptedGenerator();
  const [result] = await sentenceSearch([prompt], generator, scorer, options);
  // Level 1: "x." is cleaned (short); rewards 30, 10, 20 -> keep p.0 (best) and p.1 (worst).
  assert.deepEqual(result.cleaned, { short: 1 });
  assert.deepEqual(
    generator.requests.map((level) => level.map((r) => [r.node, r.prefix])),
    [
      [["p", ""]],
      [
        ["p.0", "alpha one."],
        ["p.1", "beta two."],
      ],
    ],
  );
  for (const n of ["p.3", "p.2", "p.0.0", "p.0.1", "p.1.0", "p.1.1"])
    assert.ok(generator.released.has(n), `${n} released`);
  assert.ok(generator.closed);
  // Finished paths and their scores (summed reward / sentences): p.1 itself, ended by its empty
  // candidate, 10 / 1 = 10 (first: it finishes while level 2 is cleaned); p.0.0 (30 + 40) / 2 =
  // 35, p.0.1 (30 + 0) / 2 = 15, p.1.1 (10 + 5) / 2 = 7.5.
  assert.deepEqual(
    result.finished.map((p) => [p.response, p.reward, p.finish]),
    [
      ["beta two.", 10, "end"],
      ["alpha one. delta four.", 70, "end"],
      ["alpha one. eps five.", 30, "end"],
      ["beta two. zeta six.", 15, "end"],
    ],
  );
  assert.equal(result.sentences, 4 + 4);
  const record = await csrRecord(result, {
    stage: "csr-iter1",
    model: "scripted",
    seed: 0,
    mix: "paper",
    sampling: {},
    imagePath: async () => `images/${"a".repeat(64)}.png`,
    source: "p",
  });
  assert.ok(typeof record !== "string");
  assert.equal(record.chosen, "alpha one. delta four.");
  assert.equal(record.rejected, "beta two. zeta six.");
  // Mean relevance per side: (30 + 40) / 2 = 35 and (10 + 5) / 2 = 7.5.
  assert.equal(record.provenance.scores?.chosen_relevance, 35);
  assert.equal(record.provenance.scores?.rejected_relevance, 7.5);
  const summary = relevanceSummary([record]);
  assert.equal(summary.chosenRelevance, 35);
  assert.equal(summary.rejectedWords, 4);
});

test("selecting by LM score keeps other nodes: the released code's search", async () => {
  // LM scores at level 1: p.0 -1, p.1 -0.5, p.2 -3 -> best p.1, worst p.2; p.0 is released.
  const generator = new ScriptedGenerator();
  const [result] = await sentenceSearch([prompt], generator, scorer, { ...options, selectBy: "lm-score" });
  assert.deepEqual(
    generator.requests[1].map((r) => r.node),
    ["p.1", "p.2"],
  );
  assert.ok(generator.released.has("p.0"));
  assert.deepEqual(
    result.finished.map((p) => p.response),
    ["beta two.", "beta two. zeta six.", "gamma three. eta seven."],
  );
});

test("a prompt without a finished path gives no pair, with its reason", async () => {
  const record = await csrRecord(
    { prompt, finished: [], cleaned: {}, sentences: 0 },
    { stage: "s", model: "m", seed: 0, mix: "paper", sampling: {}, imagePath: async () => "x", source: "p" },
  );
  assert.equal(record, "no-finished-path");
  await assert.rejects(
    sentenceSearch([prompt], new ScriptedGenerator(), scorer, { ...options, keep: { best: 0, worst: 0 } }),
    /at least one node/,
  );
});
