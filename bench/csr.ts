// CSR's sentence-level search, KV-cached and batched (the csr-iteration stage's way) against the
// naive search that encodes every node's whole sequence again, image included, one node at a time
// (the released code's way, `cache: none`), on a random-weights VLM of the shipped size
// (assets/base/config.json with its tokenizer) and a random-weights scorer of the shipped
// scorer's size, over random images: the same search (the recipe's defaults: 5 beams in 5
// groups, penalty 3, best 1 and worst 2 kept, 1,024 characters), the same seed, so both must
// find the same paths. Reports sentences proposed and scored per second.
// Random weights never write '.', so every sentence would run to the recipe's 70-token limit and
// a tree would be two or three sentences deep; the bench ends sentences at `--sentence-tokens`
// (12, about the shipped base's sentence length) so that trees have the depth of the base's
// (10 to 20 sentences to 1,024 characters) and prefixes grow as long as they do in a real run.
//   npm run bench -- csr [--prompts 3] [--sentence-tokens 12] [--threads 1] [--json]
// Last line with --json: {"sentences_per_s", "naive_sentences_per_s", "speedup", "identical", ...,
// "peak_rss_mb_cached" (the process's peak after set-up and the cached search, which runs
// first), "peak_rss_mb" (after both)}
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import type { ImageTextScorer } from "../src/backends/types.js";
import { setNumThreads } from "../src/engine/index.js";
import type { SearchPrompt } from "../src/methods/csr/candidates.js";
import { EmbeddedCandidateGenerator } from "../src/methods/csr/embedded-candidates.js";
import { csrPrompts } from "../src/methods/csr/prompts.js";
import { type PromptSearch, sentenceSearch } from "../src/methods/csr/search.js";
import { candidateOptions, SearchConfigSchema, searchOptions } from "../src/methods/csr/search-config.js";
import { ClipModel, ClipScorer, parseClipConfig } from "../src/models/clip.js";
import { Tokenizer } from "../src/models/tokenizer.js";
import { parseVLMConfig, VLM } from "../src/models/vlm.js";
import { mulberry32 } from "../src/util/prng.js";

const readJson = (path: string) => {
  const { model_type: _, ...rest } = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  return rest;
};

interface Setup {
  model: VLM;
  tokenizer: Tokenizer;
  scorer: ClipScorer;
  prompts: SearchPrompt[];
  pixels: Map<string, Float32Array>;
}

function setup(prompts: number): Setup {
  const tokenizer = Tokenizer.load(join("assets", "base", "tokenizer.json"));
  const model = new VLM(parseVLMConfig(readJson(join("assets", "base", "config.json"))), { seed: 1 });
  const clip = new ClipModel(parseClipConfig(readJson(join("assets", "scorer", "config.json"))), { seed: 2 });
  const S = model.config.vision.imageSize;
  const rng = mulberry32(3);
  const pixels = new Map<string, Float32Array>();
  const items = Array.from({ length: prompts }, (_, i) => {
    const id = `random-${i}`;
    pixels.set(
      id,
      Float32Array.from({ length: 3 * S * S }, () => rng()),
    );
    return { id, source: id, image: { bytes: new Uint8Array([i]), mimeType: "image/png" as const } };
  });
  return { model, tokenizer, scorer: new ClipScorer(clip, tokenizer), prompts: csrPrompts(items, 0), pixels };
}

async function timeSearch(
  s: Setup,
  cache: "kv" | "none",
  sentenceTokens: number,
): Promise<{ seconds: number; results: PromptSearch[] }> {
  const config = SearchConfigSchema.parse({ cache, maxSentenceTokens: sentenceTokens });
  const generator = new EmbeddedCandidateGenerator(s.model, s.tokenizer, {
    ...candidateOptions(config),
    seed: 0,
    pixels: async (r) => s.pixels.get(r.prompt.id) as Float32Array,
  });
  const relevance: ImageTextScorer = {
    name: "random-clip",
    score: async (pairs) =>
      s.scorer.score(
        pairs.map((p) => ({ image: s.pixels.get(`random-${p.image.bytes[0]}`) as Float32Array, text: p.text })),
      ),
    close: async () => {},
  };
  const t0 = performance.now();
  const results = await sentenceSearch(s.prompts, generator, relevance, searchOptions(config));
  return { seconds: (performance.now() - t0) / 1000, results };
}

const pathsOf = (results: PromptSearch[]) =>
  results.map((r) => r.finished.map((f) => ({ response: f.response, finish: f.finish, reward: f.reward })));

function identical(a: PromptSearch[], b: PromptSearch[]): boolean {
  const x = pathsOf(a);
  const y = pathsOf(b);
  return x.every(
    (paths, i) =>
      paths.length === y[i].length &&
      paths.every(
        (p, j) =>
          p.response === y[i][j].response && p.finish === y[i][j].finish && Math.abs(p.reward - y[i][j].reward) < 1e-3,
      ),
  );
}

export function registerCsrBench(program: Command): void {
  program
    .command("csr")
    .description("CSR's sentence-level search: KV-cached and batched against re-encoding every node")
    .option("--prompts <n>", "random images searched", "3")
    .option("--sentence-tokens <n>", "tokens a sentence ends at (random weights write no '.')", "12")
    .option("--threads <n>", "libtorch threads", "1")
    .option("--json", "end with one JSON line")
    .action(async (o: { prompts: string; sentenceTokens: string; threads: string; json?: boolean }) => {
      const sentenceTokens = Number(o.sentenceTokens);
      setNumThreads(Number(o.threads));
      const s = setup(Number(o.prompts));
      try {
        const cached = await timeSearch(s, "kv", sentenceTokens);
        // The process's peak resident memory so far: set-up and the cached search (it runs first).
        const peakCachedMb = Math.round(process.resourceUsage().maxRSS / 1024);
        const naive = await timeSearch(s, "none", sentenceTokens);
        const sentences = cached.results.reduce((a, r) => a + r.sentences, 0);
        const figures = {
          threads: Number(o.threads),
          prompts: s.prompts.length,
          sentence_tokens: sentenceTokens,
          sentences,
          seconds: Number(cached.seconds.toFixed(2)),
          naive_seconds: Number(naive.seconds.toFixed(2)),
          sentences_per_s: Number((sentences / cached.seconds).toFixed(2)),
          naive_sentences_per_s: Number(
            (naive.results.reduce((a, r) => a + r.sentences, 0) / naive.seconds).toFixed(2),
          ),
          speedup: Number((naive.seconds / cached.seconds).toFixed(2)),
          identical: identical(cached.results, naive.results),
          peak_rss_mb_cached: peakCachedMb,
          peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
        };
        console.error(
          `csr: ${sentences} sentences, cached ${figures.sentences_per_s}/s, naive ${figures.naive_sentences_per_s}/s, speedup ${figures.speedup}x, identical ${figures.identical}`,
        );
        if (o.json) console.log(JSON.stringify(figures));
      } finally {
        s.model.dispose();
        s.scorer.model.dispose();
      }
    });
}
