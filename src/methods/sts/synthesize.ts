// STS's synthesis steps with a model (METHODS.md section 4, steps 2, 4 and 6): descriptions of
// each training image, round-1 answers from the label and the selected concepts, and rounds 2+
// sampled answers chosen by rejection sampling. Each returns plain data; stages.ts writes it.
import type { GenerationParams, VisionLanguageModel } from "../../backends/types.js";
import type { SftRecord } from "../../data/records.js";
import type { ChatImage } from "../../images/chat-image.js";
import type { Dropped } from "../common/chunked-records.js";
import type { Embedder } from "./embedder.js";
import { infoNceScores } from "./infonce.js";
import type { LabelledItem } from "./items.js";
import {
  bareQuestion,
  DESCRIBE_PROMPTS,
  imageQuestion,
  namesLabel,
  type QuestionType,
  questionFor,
  synthesisPrompt,
  writeAnswer,
} from "./questions.js";
import { type Choice, chooseAnswer, type Negatives, negativeConcepts } from "./rejection.js";

const params = (p: Partial<GenerationParams> & { seed: number; maxTokens: number }): GenerationParams => ({
  n: 1,
  temperature: 0,
  topP: 1,
  topK: 0,
  stop: [],
  logprobs: false,
  ...p,
});

async function inChunks<T, R>(
  items: readonly T[],
  size: number,
  done: (n: number) => void,
  f: (c: T[]) => Promise<R[]>,
) {
  const out: R[] = [];
  for (let start = 0; start < items.length; start += size) {
    out.push(...(await f(items.slice(start, start + size))));
    done(Math.min(items.length, start + size));
  }
  return out;
}

export interface DescribeOptions {
  /** Instructions used (the first of DESCRIBE_PROMPTS; the paper: 3). */
  prompts: number;
  /** Samples per instruction (the paper: 10). */
  samples: number;
  temperature: number;
  maxTokens: number;
  chunkSize: number;
  seed: number;
}

/** Each image's descriptions (prompts x samples, in that order). */
export async function describeImages(
  backend: VisionLanguageModel,
  items: readonly LabelledItem[],
  o: DescribeOptions,
  progress: (done: number) => void,
): Promise<{ id: string; descriptions: string[] }[]> {
  const prompts = DESCRIBE_PROMPTS.slice(0, o.prompts);
  const requests = items.flatMap((item) => prompts.map((p, k) => ({ item, k, p })));
  const texts = await inChunks(
    requests,
    o.chunkSize,
    (n) => progress(Math.floor(n / prompts.length)),
    async (chunk) =>
      (
        await backend.generate(
          chunk.map((r) => ({
            id: `${r.item.id}/describe-${r.k}`,
            images: [r.item.image],
            messages: [{ role: "user", content: imageQuestion(r.p) }],
          })),
          params({ n: o.samples, temperature: o.temperature, maxTokens: o.maxTokens, seed: o.seed }),
        )
      ).map((samples) => samples.map((s) => s.text.trim()).filter((t) => t !== "")),
  );
  return items.map((item, i) => ({
    id: item.id,
    descriptions: texts.slice(i * prompts.length, (i + 1) * prompts.length).flat(),
  }));
}

export interface RecordContext {
  stage: string;
  round: number;
  seed: number;
  types: readonly QuestionType[];
  imagePath: (image: ChatImage) => Promise<string>;
}

async function record(
  c: RecordContext,
  item: LabelledItem,
  type: QuestionType,
  question: string,
  answer: string,
  extra: { model: string; sampling?: Record<string, number>; scores?: Record<string, number>; reasons: string[] },
): Promise<SftRecord> {
  return {
    kind: "sft",
    id: `${item.id}/${type}`,
    images: [await c.imagePath(item.image)],
    messages: [
      { role: "user", content: question },
      { role: "assistant", content: answer },
    ],
    provenance: {
      method: "sts",
      stage: c.stage,
      round: c.round,
      model: extra.model,
      seed: c.seed,
      ...(extra.sampling === undefined ? {} : { sampling: extra.sampling }),
      ...(extra.scores === undefined ? {} : { scores: extra.scores }),
      reasons: [`type:${type}`, ...extra.reasons],
      source: item.id,
    },
  };
}

export interface Round1Options {
  writer: "world" | "policy";
  temperature: number;
  maxTokens: number;
  chunkSize: number;
}

/**
 * Round 1: per image and question type, an answer written from the label and the selected
 * concepts (by the world's writer, or by the policy prompted with them), kept only if it names
 * the label, stored under the bare question.
 */
export async function round1Records(
  backend: VisionLanguageModel | null,
  items: readonly LabelledItem[],
  selected: ReadonlyMap<string, readonly string[]>,
  o: Round1Options,
  c: RecordContext,
  progress: (done: number) => void,
): Promise<{ records: SftRecord[]; dropped: Dropped[] }> {
  const jobs = items.flatMap((item) =>
    c.types.map((type) => {
      const concepts = selected.get(item.id) ?? [];
      const question = questionFor(type, item.id, c.seed);
      return { item, type, prompt: synthesisPrompt(item.label, concepts, question), concepts };
    }),
  );
  let answers: string[];
  if (o.writer === "world") answers = jobs.map((j) => writeAnswer(j.type, j.item.label, j.concepts));
  else {
    if (backend === null) throw new Error("sts: the policy writer needs a model");
    answers = await inChunks(
      jobs,
      o.chunkSize,
      (n) => progress(Math.floor(n / c.types.length)),
      async (chunk) =>
        (
          await backend.generate(
            chunk.map((j) => ({
              id: `${j.item.id}/${j.type}/synthesize`,
              images: [j.item.image],
              messages: [{ role: "user", content: j.prompt }],
            })),
            params({ temperature: o.temperature, maxTokens: o.maxTokens, seed: c.seed }),
          )
        ).map((s) => s[0]?.text.trim() ?? ""),
    );
  }
  const out = { records: [] as SftRecord[], dropped: [] as Dropped[] };
  const model = o.writer === "world" ? "world:label-concept-writer" : (backend?.name ?? "policy");
  for (const [i, j] of jobs.entries()) {
    if (!namesLabel(answers[i], j.item.label)) {
      out.dropped.push({ itemId: `${j.item.id}/${j.type}`, reason: "answer-misses-label" });
      continue;
    }
    const sampling = o.writer === "policy" ? { temperature: o.temperature, max_tokens: o.maxTokens } : undefined;
    out.records.push(
      await record(c, j.item, j.type, bareQuestion(j.prompt), answers[i], {
        model,
        ...(sampling === undefined ? {} : { sampling }),
        reasons: [`writer:${o.writer}`],
      }),
    );
  }
  progress(items.length);
  return out;
}

export interface RejectionOptions {
  samples: number;
  temperature: number;
  topP: number;
  maxTokens: number;
  chunkSize: number;
  tau: number;
  choice: Choice;
  negatives: Negatives;
}

/**
 * Rounds 2+: per image and question type, `samples` answers to the bare question; the kept one by
 * rejection sampling (rejection.ts) against the image's selected concepts, or the fallback.
 */
export async function rejectionRecords(
  backend: VisionLanguageModel,
  embedder: Embedder,
  items: readonly LabelledItem[],
  selected: ReadonlyMap<string, readonly string[]>,
  allConcepts: readonly string[],
  o: RejectionOptions,
  c: RecordContext,
  progress: (done: number) => void,
): Promise<{ records: SftRecord[]; fallbacks: number }> {
  const jobs = items.flatMap((item) =>
    c.types.map((type) => ({ item, type, question: imageQuestion(questionFor(type, item.id, c.seed)) })),
  );
  const sampled = await inChunks(
    jobs,
    o.chunkSize,
    (n) => progress(Math.floor(n / c.types.length)),
    (chunk) =>
      backend.generate(
        chunk.map((j) => ({
          id: `${j.item.id}/${j.type}/sample`,
          images: [j.item.image],
          messages: [{ role: "user", content: j.question }],
        })),
        params({ n: o.samples, temperature: o.temperature, topP: o.topP, maxTokens: o.maxTokens, seed: c.seed }),
      ),
  );
  const out = { records: [] as SftRecord[], fallbacks: 0 };
  const sampling = { n: o.samples, temperature: o.temperature, top_p: o.topP, max_tokens: o.maxTokens };
  for (const [i, j] of jobs.entries()) {
    const own = selected.get(j.item.id) ?? [];
    const texts = sampled[i].map((s) => s.text.trim());
    const A = embedder.texts(own);
    const C = embedder.texts(negativeConcepts(allConcepts, own, o.negatives));
    const scores = texts.length === 0 ? [] : infoNceScores(A, embedder.texts(texts), C, o.tau);
    const chosen = chooseAnswer(
      texts.map((text, k) => ({ text, score: scores[k] })),
      j.item.label,
      o.choice,
    );
    if (chosen.index === null) out.fallbacks++;
    out.records.push(
      await record(c, j.item, j.type, j.question, chosen.answer, {
        model: backend.name,
        sampling,
        ...(chosen.score === null ? {} : { scores: { infonce: chosen.score } }),
        reasons: [chosen.index === null ? "fallback" : `sample:${chosen.index}`],
      }),
    );
  }
  return out;
}
