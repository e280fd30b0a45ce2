// STIC's optional inference mode, "describe and respond" (METHODS.md section 1; reference code
// yihedeng9/STIC llava/eval/model_vqa_mmbench_dar.py): the model first describes the image, then
// answers the question with that description prefixed exactly as stage-2 training data prefixes
// it (infuseDescription: `<image>\nImage description:\n{d}\n\n{question}`).
//
// A wrapper with the VisionLanguageModel interface, so every benchmark runs in this mode
// unchanged. Per generate(): one greedy call that describes the images of every request that has
// any (one description per distinct image set, from a small cache keyed by the image bytes and
// the prompt), then one call with the prefixed requests and the caller's parameters. score()
// prefixes the same way, so teacher-forced answers are scored in the layout they are generated
// in. The description goes into the first user turn that holds an `<image>` marker (the first
// user turn when none does); requests without images pass through unchanged.
//
// Departure from the reference code: its description request carries no image marker (the
// prompt is tokenized without <image>, so the model never sees the image while describing);
// here the description prompt gets one marker per image, as intended.
import { createHash } from "node:crypto";
import { z } from "zod";
import type {
  BackendCapabilities,
  GeneratedSample,
  GenerationParams,
  GenerationRequest,
  ScoreRequest,
  ScoreResult,
  VisionLanguageModel,
} from "../../backends/types.js";
import type { ChatImage } from "../../images/chat-image.js";
import { defineInferenceMode } from "../../run/inference-mode.js";
import { infuseDescription } from "./infused.js";
import { imageTurn, PAPER_PROMPTS, PromptSetIdSchema, sticPromptSet } from "./prompts.js";

export interface DescribeThenAnswerOptions {
  /** The description prompt (default PAPER_PROMPTS.describe; SCENEWORLD_PROMPTS.describe for the embedded models). */
  prompt?: string;
  /** Longest description (default 1024, the code's). */
  maxTokens?: number;
  /** Descriptions kept for reuse (default 1024; 0 = none). Greedy, so reuse changes nothing but time. */
  cacheSize?: number;
}

interface WithImages {
  id?: string;
  images: ChatImage[];
  messages: GenerationRequest["messages"];
}

/** The request with the description infused into its image turn. */
export function withDescription<T extends WithImages>(request: T, description: string): T {
  const users = request.messages.map((m, i) => ({ m, i })).filter(({ m }) => m.role === "user");
  const target = users.find(({ m }) => m.content.includes("<image>")) ?? users[0];
  if (target === undefined) return request;
  const messages = request.messages.map((m, i) =>
    i === target.i ? { ...m, content: infuseDescription(m.content, description) } : m,
  );
  return { ...request, messages };
}

export class DescribeThenAnswer implements VisionLanguageModel {
  readonly name: string;
  readonly prompt: string;
  readonly #maxTokens: number;
  readonly #cacheSize: number;
  readonly #cache = new Map<string, string>();

  constructor(
    readonly inner: VisionLanguageModel,
    options: DescribeThenAnswerOptions = {},
  ) {
    this.name = `describe-first:${inner.name}`;
    this.prompt = options.prompt ?? PAPER_PROMPTS.describe;
    this.#maxTokens = options.maxTokens ?? 1024;
    this.#cacheSize = options.cacheSize ?? 1024;
    if (!Number.isInteger(this.#maxTokens) || this.#maxTokens < 1)
      throw new RangeError(`DescribeThenAnswer: maxTokens ${this.#maxTokens} must be a positive integer`);
  }

  capabilities(): Promise<BackendCapabilities> {
    return this.inner.capabilities();
  }

  #key(images: ChatImage[]): string {
    const hash = createHash("sha256").update(`${this.prompt}\u0000${this.#maxTokens}`);
    for (const image of images)
      hash.update(`\u0000${image.mimeType}\u0000${image.bytes.length}\u0000`).update(image.bytes);
    return hash.digest("hex");
  }

  /** One description per request with images (null for the others), from one greedy call at most. */
  async describe(requests: readonly WithImages[], seed = 0): Promise<(string | null)[]> {
    const keys = requests.map((r) => (r.images.length === 0 ? null : this.#key(r.images)));
    const todo = new Map<string, GenerationRequest>();
    requests.forEach((r, i) => {
      const key = keys[i];
      if (key === null || this.#cache.has(key) || todo.has(key)) return;
      todo.set(key, {
        id: `${r.id ?? `#${i}`}/describe`,
        images: r.images,
        messages: [{ role: "user", content: imageTurn(this.prompt, r.images.length) }],
      });
    });
    const fresh = new Map<string, string>();
    if (todo.size > 0) {
      const params: GenerationParams = {
        n: 1,
        temperature: 0,
        topP: 1,
        topK: 0,
        maxTokens: this.#maxTokens,
        stop: [],
        seed,
        logprobs: false,
      };
      const samples = await this.inner.generate([...todo.values()], params);
      [...todo.keys()].forEach((key, k) => {
        const s = samples[k]?.[0];
        if (s === undefined) throw new Error(`${this.inner.name}: no description for ${todo.get(key)!.id}`);
        fresh.set(key, s.text.trim());
      });
    }
    const out = keys.map((key) => (key === null ? null : (fresh.get(key) ?? this.#cache.get(key)!)));
    for (const [key, text] of fresh) this.#remember(key, text);
    return out;
  }

  #remember(key: string, text: string): void {
    if (this.#cacheSize === 0) return;
    this.#cache.set(key, text);
    while (this.#cache.size > this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
  }

  async generate(requests: GenerationRequest[], params: GenerationParams): Promise<GeneratedSample[][]> {
    const descriptions = await this.describe(requests, params.seed);
    return this.inner.generate(
      requests.map((r, i) => (descriptions[i] === null ? r : withDescription(r, descriptions[i]!))),
      params,
    );
  }

  async score(requests: ScoreRequest[]): Promise<ScoreResult[]> {
    const descriptions = await this.describe(requests);
    return this.inner.score(
      requests.map((r, i) => (descriptions[i] === null ? r : withDescription(r, descriptions[i]!))),
    );
  }

  /** Closes the wrapped backend too (the wrapper owns it). */
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * The inference mode (src/run/inference-mode.ts): `describeFirst: true` in a recipe's eval block,
 * `--describe-first` on the eval command. CHAIR is asked plainly: its prompt is itself the
 * description request.
 */
export const describeFirstMode = defineInferenceMode({
  name: "describe-first",
  description: "STIC's describe-and-respond: the model describes the image, then answers with the description prefixed",
  options: z.object({
    describePromptSet: PromptSetIdSchema.default("sceneworld").describe(
      "the STIC prompt set whose describe prompt describeFirst uses (sceneworld: the embedded models)",
    ),
    describeMaxTokens: z
      .number()
      .int()
      .min(1)
      .default(128)
      .describe("longest description in describeFirst (128 fits the embedded models'; the code's 1024)"),
  }),
  flags: { describePromptSet: "--describe-prompts" },
  plainBenches: ["chair"],
  wrap: (model, options) =>
    new DescribeThenAnswer(model, {
      prompt: sticPromptSet(options.describePromptSet).describe,
      maxTokens: options.describeMaxTokens,
    }),
});
