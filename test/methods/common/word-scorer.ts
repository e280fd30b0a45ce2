// A scoring-only VisionLanguageModel with a word-level tokenizer: each word or punctuation run
// of the response is a token (id "t:<word>"), followed by an end-of-turn token, and each token's
// log-prob is looked up in a table (default -0.1). With `pieces` it also reports token texts, as
// the embedded backend does; words outside `known` are then reported as "<unk>".
import type {
  BackendCapabilities,
  GeneratedSample,
  ScoreRequest,
  ScoreResult,
  VisionLanguageModel,
} from "../../../src/backends/types.js";

export class WordScorer implements VisionLanguageModel {
  readonly name = "fake:words";
  /** The number of requests of each score() call. */
  readonly calls: number[] = [];

  constructor(
    private readonly logprobs: Record<string, number>,
    private readonly options: { pieces?: boolean; known?: (word: string) => boolean } = {},
  ) {}

  async capabilities(): Promise<BackendCapabilities> {
    return { maxSamplesPerRequest: 1, generationLogprobs: false, scoring: true, maxImagesPerRequest: 1 };
  }

  async generate(): Promise<GeneratedSample[][]> {
    throw new Error("WordScorer only scores");
  }

  async score(requests: ScoreRequest[]): Promise<ScoreResult[]> {
    this.calls.push(requests.length);
    return requests.map((r) => {
      const words = r.messages[r.messages.length - 1].content.toLowerCase().match(/\w+|[^\w\s]+/g) ?? [];
      const logprobs = [...words.map((w) => this.logprobs[w] ?? -0.1), -0.01];
      const known = this.options.known ?? (() => true);
      return {
        tokens: [...words.map((w) => `t:${w}`), "eot"],
        logprobs,
        total: logprobs.reduce((a, b) => a + b, 0),
        ...(this.options.pieces ? { pieces: [...words.map((w) => (known(w) ? w : "<unk>")), "<eot>"] } : {}),
      };
    });
  }

  async close(): Promise<void> {}
}
