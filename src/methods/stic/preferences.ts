// STIC stage 1: image-description preference pairs from unlabeled images (METHODS.md section 1;
// Deng et al. 2024, arXiv 2405.19716; reference code yihedeng9/STIC stic/generate_pref.py).
//
// Per image:
//   chosen   = the policy's answer to the detailed, step-by-step description prompt;
//   rejected = with probability 0.5 the answer to a random hallucination-inducing prompt, else
//              the answer to a plain prompt about a corrupted copy of the image (50/50: short
//              side shrunk to 20 px, or colour jitter; src/images/corrupt.ts);
//   both are stored under one random plain prompt (`<image>\n<plain prompt>`), not the prompts
//   that produced them. The corruption branch asks that same plain prompt, as the code does.
//
// Determinism: every random choice of an item (stored prompt, branch, inducer, corruption and
// its jitter) comes from a stream keyed by (seedBase, item id), and every request carries an id
// (`<item>/chosen`, `<item>/rejected`) from which the backends derive its sampling seed
// (src/backends/seeds.ts). So an item's pair depends on neither the chunking nor the other items
// in its calls, and a resumed run that redoes an item gets the same pair.
//
// Batching: items go in chunks of `chunkSize`; a chunk's chosen requests are one generate() call
// and its rejected requests one more per distinct sampling setting (one with the paper's
// prompts; two with sceneworld's hot-sampled inducers), all in flight together.
//
// Option for the released code's behaviour: `corruptImage: false`: the corruption branch asks
// the plain prompt about the clean image (the code draws the branch but never corrupts).
import { requestSeed } from "../../backends/seeds.js";
import type { GenerationParams, GenerationRequest, VisionLanguageModel } from "../../backends/types.js";
import { type PreferenceRecord, parsePreferenceRecord } from "../../data/records.js";
import type { ChatImage } from "../../images/chat-image.js";
import {
  colorJitter,
  downscaleShortSide,
  type JitterOptions,
  STIC_DOWNSCALE_SHORT_SIDE,
  STIC_JITTER,
} from "../../images/corrupt.js";
import { itemRng } from "../common/item-rng.js";
import { checkPromptSet, imageTurn, PAPER_PROMPTS, type SticPromptSet } from "./prompts.js";

export interface SticItem {
  id: string;
  image: ChatImage;
  /** The source item for provenance (world record id, dataset id); default the id. */
  source?: string;
}

export interface SticPairOptions {
  /** The recipe stage, for provenance. */
  stage: string;
  round?: number;
  /** Stores an image and returns its dataset path (`images/<sha256>.png`). */
  imagePath: (image: ChatImage) => Promise<string>;
  /** Default PAPER_PROMPTS; SCENEWORLD_PROMPTS for the embedded models. */
  prompts?: SticPromptSet;
  /** Sampling temperature of both answers (default 0.2, the code's); an inducer may override it. */
  temperature?: number;
  /** Default 1. */
  topP?: number;
  /** Default 1024 (the code's max_new_tokens). */
  maxTokens?: number;
  /** Items per chunk (default 16). */
  chunkSize?: number;
  /** Corrupt the image in the corruption branch (default true, the paper); false = the released code. */
  corruptImage?: boolean;
  /** Share of the hallucination-prompt branch (default 0.5). */
  hallucinationRate?: number;
  /** Default 20. */
  downscaleShortSide?: number;
  /** Default brightness 0.5, hue 0.3. */
  jitter?: JitterOptions;
  /** Called after each chunk with its pairs and drops (to write them as they come). */
  onChunk?: (chunk: SticPairsResult, done: number, total: number) => void | Promise<void>;
}

export type SticDropReason = "empty-chosen" | "empty-rejected" | "identical";

export interface SticPairsResult {
  pairs: PreferenceRecord[];
  /** Items that gave no pair, and why. */
  dropped: { itemId: string; reason: SticDropReason }[];
  /** Dropped items per reason. */
  drops: Record<SticDropReason, number>;
}

type Sampling = Pick<GenerationParams, "temperature" | "topP" | "topK">;

/** Everything decided about an item before generation. */
interface ItemPlan {
  item: SticItem;
  /** Index into the set's plain prompts: the stored prompt. */
  stored: number;
  rejected: GenerationRequest;
  rejectedSampling: Sampling;
  reasons: string[];
  extras: Record<string, number | string>;
}

const emptyDrops = (): Record<SticDropReason, number> => ({ "empty-chosen": 0, "empty-rejected": 0, identical: 0 });

interface Resolved {
  set: SticPromptSet;
  pass: Sampling;
  maxTokens: number;
  corruptImage: boolean;
  hallucinationRate: number;
  shortSide: number;
  jitter: JitterOptions;
}

function resolve(options: SticPairOptions): Resolved {
  const temperature = options.temperature ?? 0.2;
  const maxTokens = options.maxTokens ?? 1024;
  const hallucinationRate = options.hallucinationRate ?? 0.5;
  if (!(temperature >= 0)) throw new RangeError(`sticPairs: temperature ${temperature} must be >= 0`);
  if (!Number.isInteger(maxTokens) || maxTokens < 1)
    throw new RangeError(`sticPairs: maxTokens ${maxTokens} must be a positive integer`);
  if (!(hallucinationRate >= 0 && hallucinationRate <= 1))
    throw new RangeError(`sticPairs: hallucinationRate ${hallucinationRate} must be in [0, 1]`);
  return {
    set: checkPromptSet(options.prompts ?? PAPER_PROMPTS),
    pass: { temperature, topP: options.topP ?? 1, topK: 0 },
    maxTokens,
    corruptImage: options.corruptImage ?? true,
    hallucinationRate,
    shortSide: options.downscaleShortSide ?? STIC_DOWNSCALE_SHORT_SIDE,
    jitter: options.jitter ?? STIC_JITTER,
  };
}

/** Draws the item's choices and prepares its rejected request (corrupting the image when asked). */
async function planItem(item: SticItem, seedBase: number, r: Resolved): Promise<ItemPlan> {
  const rng = itemRng(seedBase, "stic", item.id);
  const stored = Math.floor(rng() * r.set.plain.length);
  const id = `${item.id}/rejected`;
  if (rng() < r.hallucinationRate) {
    const index = Math.floor(rng() * r.set.hallucination.length);
    const inducer = r.set.hallucination[index];
    const s = inducer.sampling;
    return {
      item,
      stored,
      rejected: { id, images: [item.image], messages: [{ role: "user", content: imageTurn(inducer.prompt) }] },
      rejectedSampling: s ? { temperature: s.temperature, topP: s.topP ?? 1, topK: s.topK ?? 0 } : r.pass,
      reasons: [`rejected:hallucination-prompt:${index}`],
      extras: {},
    };
  }
  const corruption = rng() < 0.5 ? "downscale" : "jitter";
  const reasons = [`rejected:corrupted:${corruption}`];
  const extras: Record<string, number | string> = {};
  let image = item.image;
  if (!r.corruptImage) {
    reasons.push("corruption:skipped");
  } else if (corruption === "downscale") {
    const out = await downscaleShortSide(item.image.bytes, r.shortSide, { source: `item ${item.id}` });
    image = out.image;
    if (!out.changed) reasons.push(`corruption:unchanged:short-side<=${r.shortSide}`);
    Object.assign(extras, { downscale_width: out.width, downscale_height: out.height });
  } else {
    const out = await colorJitter(item.image.bytes, r.jitter, rng, { source: `item ${item.id}` });
    image = out.image;
    const p = out.params;
    Object.assign(extras, { jitter_brightness: p.brightnessFactor, jitter_hue: p.hueShift, jitter_order: p.order });
  }
  return {
    item,
    stored,
    rejected: { id, images: [image], messages: [{ role: "user", content: imageTurn(r.set.plain[stored]) }] },
    rejectedSampling: r.pass,
    reasons,
    extras,
  };
}

const params = (s: Sampling, r: Resolved, seed: number): GenerationParams => ({
  n: 1,
  ...s,
  maxTokens: r.maxTokens,
  stop: [],
  seed,
  logprobs: false,
});

/** Generates a chunk's answers: chosen in one call, rejected in one call per sampling setting. */
async function answerChunk(
  backend: VisionLanguageModel,
  plans: ItemPlan[],
  seedBase: number,
  r: Resolved,
): Promise<{ chosen: string[]; rejected: string[] }> {
  const chosenRequests: GenerationRequest[] = plans.map((p) => ({
    id: `${p.item.id}/chosen`,
    images: [p.item.image],
    messages: [{ role: "user", content: imageTurn(r.set.detailed) }],
  }));
  const groups = new Map<string, number[]>();
  plans.forEach((p, i) => {
    const key = JSON.stringify(p.rejectedSampling);
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const rejected = new Array<string>(plans.length);
  const text = (samples: { text: string }[][], where: string, i: number) => {
    const s = samples[i]?.[0];
    if (s === undefined) throw new Error(`${backend.name}: no sample for ${where}`);
    return s.text.trim();
  };
  const [chosenSamples] = await Promise.all([
    backend.generate(chosenRequests, params(r.pass, r, seedBase)),
    ...[...groups.values()].map(async (indices) => {
      const requests = indices.map((i) => plans[i].rejected);
      const samples = await backend.generate(requests, params(plans[indices[0]].rejectedSampling, r, seedBase));
      indices.forEach((i, k) => {
        rejected[i] = text(samples, `${requests[k].id}`, k);
      });
    }),
  ]);
  return { chosen: plans.map((p, i) => text(chosenSamples, `${p.item.id}/chosen`, i)), rejected };
}

/** The pair's record (validated), or why it is dropped. */
async function toRecord(
  plan: ItemPlan,
  chosen: string,
  rejected: string,
  seedBase: number,
  r: Resolved,
  backend: VisionLanguageModel,
  options: SticPairOptions,
): Promise<PreferenceRecord | SticDropReason> {
  if (chosen === "") return "empty-chosen";
  if (rejected === "") return "empty-rejected";
  if (chosen === rejected) return "identical";
  const { item } = plan;
  const record = {
    kind: "preference" as const,
    id: item.id,
    images: [await options.imagePath(item.image)],
    prompt: [{ role: "user" as const, content: imageTurn(r.set.plain[plan.stored]) }],
    chosen,
    rejected,
    provenance: {
      method: "stic",
      stage: options.stage,
      ...(options.round === undefined ? {} : { round: options.round }),
      model: backend.name,
      seed: seedBase,
      sampling: {
        prompt_set: r.set.id,
        temperature: r.pass.temperature,
        top_p: r.pass.topP,
        max_tokens: r.maxTokens,
        rejected_temperature: plan.rejectedSampling.temperature,
        rejected_top_p: plan.rejectedSampling.topP,
        rejected_top_k: plan.rejectedSampling.topK,
        ...plan.extras,
      },
      reasons: plan.reasons,
      source: item.source ?? item.id,
    },
  };
  return parsePreferenceRecord(record, `stic pair for item ${item.id}`);
}

/**
 * STIC stage-1 preference pairs for `items`, one per item unless dropped (empty or identical
 * answers). Deterministic given (seedBase, item id), whatever the chunking.
 */
export async function sticPairs(
  backend: VisionLanguageModel,
  items: readonly SticItem[],
  options: SticPairOptions,
  seedBase: number,
): Promise<SticPairsResult> {
  const r = resolve(options);
  const chunkSize = options.chunkSize ?? 16;
  if (!Number.isInteger(chunkSize) || chunkSize < 1)
    throw new RangeError(`sticPairs: chunkSize ${chunkSize} must be a positive integer`);
  requestSeed(seedBase, ""); // checks the seed before any work
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.id)) throw new RangeError(`sticPairs: item id ${JSON.stringify(item.id)} appears twice`);
    seen.add(item.id);
  }
  const all: SticPairsResult = { pairs: [], dropped: [], drops: emptyDrops() };
  for (let start = 0; start < items.length; start += chunkSize) {
    const chunkItems = items.slice(start, start + chunkSize);
    const plans: ItemPlan[] = [];
    for (const item of chunkItems) plans.push(await planItem(item, seedBase, r));
    const { chosen, rejected } = await answerChunk(backend, plans, seedBase, r);
    const chunk: SticPairsResult = { pairs: [], dropped: [], drops: emptyDrops() };
    for (const [i, plan] of plans.entries()) {
      const out = await toRecord(plan, chosen[i], rejected[i], seedBase, r, backend, options);
      if (typeof out === "string") {
        chunk.dropped.push({ itemId: plan.item.id, reason: out });
        chunk.drops[out]++;
      } else {
        chunk.pairs.push(out);
      }
    }
    all.pairs.push(...chunk.pairs);
    all.dropped.push(...chunk.dropped);
    for (const [k, v] of Object.entries(chunk.drops)) all.drops[k as SticDropReason] += v;
    await options.onChunk?.(chunk, start + chunkItems.length, items.length);
  }
  return all;
}
