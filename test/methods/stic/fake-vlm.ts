// A VisionLanguageModel whose answers are a hash of (prompt, image bytes, request seed,
// sampling): deterministic, different for different inputs, and seeded per request exactly as
// the real backends seed it (requestSeed(params.seed, id or position); greedy ignores the seed).
import { createHash } from "node:crypto";
import { requestKey, requestSeed } from "../../../src/backends/seeds.js";
import type {
  BackendCapabilities,
  GeneratedSample,
  GenerationParams,
  GenerationRequest,
  ScoreRequest,
  ScoreResult,
  VisionLanguageModel,
} from "../../../src/backends/types.js";
import type { ChatImage } from "../../../src/images/chat-image.js";
import { encodePng } from "../../../src/images/codec.js";

export class FakeVlm implements VisionLanguageModel {
  readonly calls: { requests: GenerationRequest[]; params: GenerationParams }[] = [];
  readonly scored: ScoreRequest[][] = [];
  closed = false;

  constructor(
    readonly name = "fake:hash",
    /** Replaces the answer of a request when it returns a string. */
    private readonly override?: (request: GenerationRequest) => string | undefined,
  ) {}

  async capabilities(): Promise<BackendCapabilities> {
    return { maxSamplesPerRequest: 1, generationLogprobs: false, scoring: true, maxImagesPerRequest: 4 };
  }

  static answer(request: GenerationRequest, params: GenerationParams, index: number): string {
    const seed = params.temperature === 0 ? "greedy" : String(requestSeed(params.seed, requestKey(request, index)));
    const hash = createHash("sha256");
    for (const m of request.messages) hash.update(`${m.role}\u0000${m.content}\u0000`);
    for (const image of request.images) hash.update(image.bytes);
    hash.update(`${seed}\u0000${params.temperature}\u0000${params.topK}\u0000${params.maxTokens}`);
    return `answer ${hash.digest("hex").slice(0, 12)}`;
  }

  async generate(requests: GenerationRequest[], params: GenerationParams): Promise<GeneratedSample[][]> {
    this.calls.push({ requests, params });
    return requests.map((r, i) => [
      {
        text: this.override?.(r) ?? FakeVlm.answer(r, params, i),
        tokens: [],
        logprobs: null,
        finishReason: "stop" as const,
      },
    ]);
  }

  async score(requests: ScoreRequest[]): Promise<ScoreResult[]> {
    this.scored.push(requests);
    return requests.map(() => ({ tokens: ["a"], logprobs: [-1], total: -1 }));
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A distinct 64x64 PNG per index (a SceneWorld-sized image). */
export async function testImage(index: number, size = 64): Promise<ChatImage> {
  const data = new Uint8Array(size * size * 3);
  for (let p = 0; p < size * size; p++) {
    data[p * 3] = (p * 7 + index * 31) % 256;
    data[p * 3 + 1] = (p * 3 + index * 17) % 256;
    data[p * 3 + 2] = (index * 53 + (p >> 6) * 5) % 256;
  }
  return { bytes: await encodePng({ width: size, height: size, data }), mimeType: "image/png" };
}

/** A content-addressed path, as the image store would give it. */
export async function imagePath(image: ChatImage): Promise<string> {
  return `images/${createHash("sha256").update(image.bytes).digest("hex")}.png`;
}
