// The token-search driver on the tiny peaked VLM: the batched KV-cache expansion equals the
// naive one (each start encoded from scratch, one at a time), also when continuing from the
// states it returned; one group of one beam is greedy decoding; a penalty larger than any
// log-prob gap makes each group start with a different token, in the order of the model's
// first-token ranking; and no tensor outlives the states handed back.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { liveTensorCount, setNumThreads } from "../../src/engine/index.js";
import { encodeChat } from "../../src/models/chat-template.js";
import { generate } from "../../src/models/generate.js";
import { GroupBeamSearch } from "../../src/models/group-beam-search.js";
import { disposeKvState, KvRows } from "../../src/models/kv-rows.js";
import { SampledSearch } from "../../src/models/sampled-search.js";
import { bannedTokenIds } from "../../src/models/sampling.js";
import {
  type Expansion,
  expandCached,
  expandNaive,
  type MakeSearch,
  type SearchStart,
} from "../../src/models/token-search-driver.js";
import { pattern, peakedVlm, tinyTokenizer } from "./peaked-vlm.js";

setNumThreads(1);

const tokenizer = tinyTokenizer();
const model = peakedVlm(tokenizer, 11);
after(() => model.dispose());
const pad = tokenizer.specialIds.pad;
const banned = bannedTokenIds(tokenizer, model.config.vocabSize);
const ends = new Set([tokenizer.idOf("."), tokenizer.specialIds.end, tokenizer.specialIds.eos]);

const prompt = (text: string, image: boolean) =>
  encodeChat(tokenizer, [{ role: "user", content: image ? `<image> ${text}` : text }], {
    numImageTokens: model.numImageTokens,
    addGenerationPrompt: true,
  }).inputIds;

const starts = (): SearchStart[] => [
  { tokens: prompt("Describe the image.", true), image: pattern(1) },
  { tokens: prompt("What is on the left? Is there a yellow heart in the middle?", false), image: null },
  { tokens: prompt("Is there a red circle?", true), image: pattern(2) },
];

const beams =
  (penalty: number, maxNewTokens = 8): MakeSearch =>
  (_, room) =>
    new GroupBeamSearch({
      numBeams: 5,
      numGroups: 5,
      numReturn: 5,
      diversityPenalty: penalty,
      maxNewTokens: Math.min(maxNewTokens, room),
      endIds: ends,
      bannedIds: banned,
    });

function assertSame(a: Expansion[][], b: Expansion[][]): void {
  assert.equal(a.length, b.length);
  a.forEach((hyps, i) => {
    assert.deepEqual(
      hyps.map((h) => [h.tokenIds, h.finish]),
      b[i].map((h) => [h.tokenIds, h.finish]),
      `start ${i}`,
    );
    for (const [j, h] of hyps.entries())
      assert.ok(Math.abs(h.score - b[i][j].score) < 1e-4, `start ${i} hyp ${j} score`);
  });
}

const free = (e: Expansion[][]) => {
  for (const h of e.flat()) if (h.state) disposeKvState(h.state);
};

test("the cached batched expansion equals the naive one, and so does continuing from its states", () => {
  const live = liveTensorCount();
  const cached = expandCached(model, pad, starts(), beams(3));
  assertSame(cached, expandNaive(model, pad, starts(), beams(3)));
  // Each state holds the start's tokens and the hypothesis's own, all but the last.
  cached.forEach((hyps, i) => {
    for (const h of hyps) assert.equal(h.state?.length, starts()[i].tokens.length + h.tokenIds.length - 1);
  });
  // Depth 2: every hypothesis of the first start continued, from its state and from scratch.
  const base = starts()[0];
  const next: SearchStart[] = cached[0].map((h) => ({
    tokens: [...base.tokens, ...h.tokenIds],
    image: base.image,
    state: h.state,
  }));
  for (const s of next) assert.equal(s.state?.length, s.tokens.length - 1);
  const deeper = expandCached(model, pad, next, beams(3));
  assertSame(
    deeper,
    expandNaive(
      model,
      pad,
      next.map((s) => ({ tokens: s.tokens, image: s.image })),
      beams(3),
    ),
  );
  free(deeper);
  free(cached);
  assert.equal(liveTensorCount(), live, "every state freed: no tensor left");
  // Not trivial: the five hypotheses of a start differ.
  assert.ok(cached.every((hyps) => new Set(hyps.map((h) => h.tokenIds.join(","))).size > 1));
});

test("one group of one beam is greedy decoding up to the first end token", () => {
  const one: MakeSearch = (_, room) =>
    new GroupBeamSearch({
      numBeams: 1,
      numGroups: 1,
      numReturn: 1,
      diversityPenalty: 0,
      maxNewTokens: Math.min(10, room),
      endIds: ends,
      bannedIds: banned,
    });
  const out = expandCached(model, pad, starts(), one);
  const greedy = generate(
    model,
    tokenizer,
    starts().map((s, i) => ({
      image: s.image,
      messages: [
        {
          role: "user" as const,
          content: [
            "<image> Describe the image.",
            "What is on the left? Is there a yellow heart in the middle?",
            "<image> Is there a red circle?",
          ][i],
        },
      ],
    })),
    { temperature: 0, maxNewTokens: 10, stop: ["."] },
  );
  for (const [i, hyps] of out.entries()) assert.deepEqual(hyps[0].tokenIds, greedy[i][0].tokenIds, `start ${i}`);
  free(out);
});

test("a penalty above every log-prob gap starts each group with the next-ranked first token", () => {
  // Hand reasoning: group g sees the tokens of groups 0..g-1 penalized by 1e4, more than any gap
  // between two log-probs, so it picks the best token no earlier group picked: the g-th ranked
  // first token (banned ids aside). The ranking comes from the prompt's own logits.
  const s = starts()[0];
  const { rows, logits } = KvRows.prefill(model, pad, [s.tokens], [s.image]);
  const first = logits.toFloat32();
  rows.dispose();
  logits.dispose();
  const ranked = [...first.keys()].filter((v) => !banned.has(v)).sort((a, b) => first[b] - first[a]);
  const out = expandCached(model, pad, [s], beams(1e4, 1));
  const firstTokens = out[0].map((h) => h.tokenIds[0]).sort((a, b) => a - b);
  assert.deepEqual(
    firstTokens,
    ranked.slice(0, 5).sort((a, b) => a - b),
  );
  free(out);
});

test("sampling as the token search: seeded, the same whether batched or alone", () => {
  const sampled: MakeSearch = (i, room) =>
    new SampledSearch({
      n: 3,
      temperature: 1,
      topP: 0.9,
      maxNewTokens: Math.min(8, room),
      endIds: ends,
      bannedIds: banned,
      seed: 100 + i,
    });
  const cached = expandCached(model, pad, starts(), sampled);
  assertSame(cached, expandNaive(model, pad, starts(), sampled));
  free(cached);
});
