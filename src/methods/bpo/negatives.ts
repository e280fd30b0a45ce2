// BPO's pairs for a chunk of items: each item is one positive and one negative generator
// (`<positive id>/injection`, `<positive id>/weakening`), and gives one preference pair (chosen =
// the positive's answer, rejected = the negative, under the positive's prompt and image) or a
// drop with a reason code (filters.ts). A chunk holds every generator's item of its positives
// (the stage cuts chunks in whole positives), so that one positive's negatives are paired by
// chosenAgainstEach together: a negative equal to another of the same positive is dropped
// (`duplicate-negative`), as the paper's "every pair with different scores" counts it once.
//
// Each generator's requests go in one backend call per chunk; every request carries its item's
// id, from which the backends derive its sampling seed, and every random draw of an item (the
// cut, the noise) comes from a stream keyed by its positive's id: an item's pair depends neither
// on the chunking nor on the other items, and a resumed run that redoes it gets the same pair.
//
// Records name their generator in provenance.reasons: `negative:injection:<mode>` or
// `negative:weakening:<decoding>`, and the released code's completion types (`type:llm-hal`,
// `type:mllm-hal`), then `positive:<style>`.
import { EmbeddedBackend } from "../../backends/embedded.js";
import type { GeneratedSample, GenerationParams, VisionLanguageModel } from "../../backends/types.js";
import { type PreferenceRecord, parsePreferenceRecord } from "../../data/records.js";
import type { ChatImage } from "../../images/chat-image.js";
import type { PixelNormalize } from "../../images/diffusion-noise.js";
import type { Dropped } from "../common/chunked-records.js";
import { joinContinuation } from "../common/continuation.js";
import { itemRng } from "../common/item-rng.js";
import { chosenAgainstEach } from "../common/pairs.js";
import { judgeNegative, type NegativeDrop, type NegativeRules, normalizeText } from "./filters.js";
import { cleanRewrite, type Imageless, type InjectionMode, injectionPlan } from "./injection.js";
import type { Positive } from "./positives.js";
import { generateContrastively, type WeakeningDecoding, weakenedImage } from "./weakening.js";

export const GENERATORS = ["injection", "weakening"] as const;
export type Generator = (typeof GENERATORS)[number];

/** The completion types of BPO's released records. */
export const COMPLETION_TYPE: Record<Generator, string> = { injection: "llm-hal", weakening: "mllm-hal" };

export interface PairItem {
  /** `<positive id>/<generator>`. */
  id: string;
  generator: Generator;
  positive: Positive;
  /** The positive's image (read from the stage's store). */
  image: ChatImage;
}

export interface InjectionConfig {
  mode: InjectionMode;
  temperature: number;
  topP: number;
  maxTokens: number;
  cut: { min: number; max: number };
  imageless: Imageless;
}

export interface WeakeningConfig {
  t: number;
  temperature: number;
  topP: number;
  maxTokens: number;
  decoding: WeakeningDecoding;
  contrast: { alpha: number; beta: number };
  normalize: PixelNormalize;
}

export interface BpoPairOptions {
  stage: string;
  /** The stage's seed: sampling seeds and every item's streams derive from it. */
  seed: number;
  injection: InjectionConfig | false;
  weakening: WeakeningConfig | false;
  rules: NegativeRules;
}

export interface BpoPairsResult {
  records: PreferenceRecord[];
  dropped: (Dropped & { reason: NegativeDrop })[];
}

/** A generated negative before it is judged. */
interface Negative {
  item: PairItem;
  text: string;
  /** The part the model generated was empty (a continuation that stopped at once). */
  empty: boolean;
  finishReason: "stop" | "length";
  sampling: Record<string, number | string>;
  reason: string;
}

const params = (c: { temperature: number; topP: number; maxTokens: number }, seed: number): GenerationParams => ({
  n: 1,
  temperature: c.temperature,
  topP: c.topP,
  topK: 0,
  maxTokens: c.maxTokens,
  stop: [],
  seed,
  logprobs: false,
});

function only(samples: GeneratedSample[][], i: number, id: string, backend: VisionLanguageModel): GeneratedSample {
  const s = samples[i]?.[0];
  if (s === undefined) throw new Error(`${backend.name}: no sample for ${id}`);
  return s;
}

async function injectionNegatives(
  backend: VisionLanguageModel,
  items: PairItem[],
  c: InjectionConfig,
  seed: number,
): Promise<Negative[]> {
  if (items.length === 0) return [];
  if (c.mode === "rewrite" && backend instanceof EmbeddedBackend)
    throw new Error(
      `injection.mode: rewrite asks the model to edit text, which the embedded model (${backend.name}) was never taught and cannot read (its vocabulary is the world's); use mode: prior-continuation`,
    );
  const plans = await Promise.all(
    items.map((item) =>
      injectionPlan(
        {
          id: item.id,
          image: item.image,
          prompt: item.positive.prompt,
          answer: item.positive.answer,
          style: item.positive.style,
        },
        c.mode,
        c,
        itemRng(seed, "bpo", `cut:${item.positive.id}`),
      ),
    ),
  );
  const samples = await backend.generate(
    plans.map((p) => p.request),
    params(c, seed),
  );
  return items.map((item, i) => {
    const s = only(samples, i, item.id, backend);
    const generated = c.mode === "rewrite" ? cleanRewrite(s.text) : s.text.trim();
    return {
      item,
      text: c.mode === "rewrite" ? generated : joinContinuation(plans[i].prefix, s.text),
      empty: generated === "",
      finishReason: s.finishReason,
      sampling: {
        mode: c.mode,
        temperature: c.temperature,
        top_p: c.topP,
        max_tokens: c.maxTokens,
        ...(c.mode === "prior-continuation" ? { imageless: c.imageless, cut_words: plans[i].cutWords } : {}),
      },
      reason: `negative:injection:${c.mode}`,
    };
  });
}

async function weakeningNegatives(
  backend: VisionLanguageModel,
  items: PairItem[],
  c: WeakeningConfig,
  seed: number,
): Promise<Negative[]> {
  if (items.length === 0) return [];
  const noised = await Promise.all(
    items.map((item) =>
      weakenedImage(
        { id: item.id, positiveId: item.positive.id, image: item.image },
        c,
        itemRng(seed, "bpo", `noise:${item.positive.id}`),
      ),
    ),
  );
  const contrastive = c.decoding === "contrastive";
  const requests = items.map((item, i) => ({
    id: item.id,
    images: [contrastive ? item.image : noised[i].image],
    messages: item.positive.prompt,
  }));
  const samples = contrastive
    ? await generateContrastively(
        backend,
        requests,
        noised.map((n) => n.image),
        params(c, seed),
        c.contrast,
      )
    : await backend.generate(requests, params(c, seed));
  return items.map((item, i) => {
    const s = only(samples, i, item.id, backend);
    return {
      item,
      text: s.text.trim(),
      empty: s.text.trim() === "",
      finishReason: s.finishReason,
      sampling: {
        decoding: c.decoding,
        t: c.t,
        temperature: c.temperature,
        top_p: c.topP,
        max_tokens: c.maxTokens,
        clipped: Number(noised[i].clipped.toFixed(4)),
        ...(contrastive ? { cd_alpha: c.contrast.alpha, cd_beta: c.contrast.beta } : {}),
      },
      reason: `negative:weakening:${c.decoding}`,
    };
  });
}

function toRecord(n: Negative, options: BpoPairOptions, model: string): PreferenceRecord {
  const { item } = n;
  const p = item.positive;
  return parsePreferenceRecord(
    {
      kind: "preference",
      id: item.id,
      images: [p.imagePath],
      prompt: p.prompt,
      chosen: p.answer,
      rejected: n.text,
      provenance: {
        method: "bpo",
        stage: options.stage,
        model,
        seed: options.seed,
        sampling: n.sampling,
        reasons: [n.reason, `type:${COMPLETION_TYPE[item.generator]}`, `positive:${p.style}`],
        source: p.source,
      },
    },
    `bpo pair ${item.id}`,
  );
}

/** The pairs (or drops) of a chunk's items; every item gets exactly one of the two. */
export async function bpoPairs(
  backend: VisionLanguageModel,
  chunk: readonly PairItem[],
  options: BpoPairOptions,
): Promise<BpoPairsResult> {
  const of = (g: Generator) => chunk.filter((item) => item.generator === g);
  for (const g of GENERATORS) {
    if (of(g).length > 0 && options[g] === false) throw new Error(`item ${of(g)[0].id}: the ${g} generator is off`);
  }
  const [injected, weakened] = await Promise.all([
    options.injection === false ? [] : injectionNegatives(backend, of("injection"), options.injection, options.seed),
    options.weakening === false ? [] : weakeningNegatives(backend, of("weakening"), options.weakening, options.seed),
  ]);
  const out: BpoPairsResult = { records: [], dropped: [] };
  // Per positive, in generator order: the rules first, then one pair per distinct negative.
  const byPositive = new Map<string, Negative[]>();
  for (const n of [...injected, ...weakened]) {
    const reason = n.empty ? "empty-negative" : judgeNegative(n.item.positive.answer, n, options.rules);
    if (reason !== null) out.dropped.push({ itemId: n.item.id, reason });
    else byPositive.set(n.item.positive.id, [...(byPositive.get(n.item.positive.id) ?? []), n]);
  }
  for (const negatives of byPositive.values()) {
    const positive = { text: negatives[0].item.positive.answer };
    const key = (x: { text: string }) => normalizeText(x.text);
    const { pairs } = chosenAgainstEach<{ text: string }>(positive, negatives, key);
    const paired = new Set(pairs.map((p) => p.rejected));
    for (const n of negatives) {
      if (paired.has(n)) out.records.push(toRecord(n, options, backend.name));
      else
        out.dropped.push({ itemId: n.item.id, reason: key(n) === key(positive) ? "identical" : "duplicate-negative" });
    }
  }
  return out;
}
