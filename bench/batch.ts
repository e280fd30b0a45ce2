// Batch-size benchmark of the embedded backend: the shipped base describes the same pool images
// (STIC's detailed prompt, temperature 0.2, 160 tokens at most) and scores the descriptions back,
// at several generateBatchSize / scoreBatchSize values, checking that every batch size gives the
// same texts and log-probs (sampling is seeded per request, so batch composition must not
// matter). Chooses the backend's defaults (src/backends/embedded.ts).
//   npm run bench -- batch [--sizes 16,32,64,128] [--items 128] [--world runs/world] [--json]
import type { Command } from "commander";
import { EmbeddedBackend } from "../src/backends/embedded.js";
import { setNumThreads } from "../src/engine/index.js";
import { poolItems } from "../src/methods/common/world-items.js";
import { SCENEWORLD_PROMPTS } from "../src/methods/stic/prompts.js";

interface BatchFigures {
  batch: number;
  generate_per_s: number;
  score_per_s: number;
  same_texts: boolean;
  max_logprob_diff: number;
}

async function measureBatches(sizes: number[], n: number, worldDir: string, model: string): Promise<BatchFigures[]> {
  const requests = poolItems(worldDir, n, 5).map((item) => ({
    id: item.id,
    images: [item.image],
    messages: [{ role: "user" as const, content: `<image>\n${SCENEWORLD_PROMPTS.detailed}` }],
  }));
  const params = { n: 1, temperature: 0.2, topP: 1, topK: 0, maxTokens: 160, stop: [], seed: 3, logprobs: false };
  let texts: string[] | undefined;
  let totals: number[] | undefined;
  const out: BatchFigures[] = [];
  for (const batch of sizes) {
    const backend = EmbeddedBackend.load(model, { generateBatchSize: batch, scoreBatchSize: batch });
    try {
      let start = performance.now();
      const generated = (await backend.generate(requests, params)).map((s) => s[0].text);
      const generateSeconds = (performance.now() - start) / 1000;
      texts ??= generated;
      start = performance.now();
      const scored = await backend.score(
        requests.map((r, i) => ({
          ...r,
          messages: [...r.messages, { role: "assistant" as const, content: texts![i] }],
        })),
      );
      const scoreSeconds = (performance.now() - start) / 1000;
      totals ??= scored.map((s) => s.total);
      out.push({
        batch,
        generate_per_s: Number((n / generateSeconds).toFixed(2)),
        score_per_s: Number((n / scoreSeconds).toFixed(2)),
        same_texts: generated.every((t, i) => t === texts![i]),
        max_logprob_diff: Math.max(...scored.map((s, i) => Math.abs(s.total - totals![i]))),
      });
    } finally {
      await backend.close();
    }
  }
  return out;
}

export function registerBatchBench(program: Command): void {
  program
    .command("batch")
    .description("embedded generation and scoring throughput by batch size (the same outputs at every size)")
    .option("--sizes <list>", "batch sizes, comma-separated", "16,32,64,128")
    .option("--items <n>", "pool images described and scored", "128")
    .option("--threads <n>", "libtorch threads", "2")
    .option("--world <dir>", "a built world (selfsynth world build)", "runs/world")
    .option("--model <dir>", "the model", "assets/base")
    .option("--json", "end with one JSON line")
    .action(
      async (o: { sizes: string; items: string; threads: string; world: string; model: string; json?: boolean }) => {
        setNumThreads(Number(o.threads));
        const figures = await measureBatches(o.sizes.split(",").map(Number), Number(o.items), o.world, o.model);
        for (const f of figures)
          console.error(
            `batch ${f.batch}: generate ${f.generate_per_s}/s, score ${f.score_per_s}/s, same texts ${f.same_texts}, max log-prob difference ${f.max_logprob_diff.toExponential(1)}`,
          );
        if (o.json) console.log(JSON.stringify({ threads: Number(o.threads), items: Number(o.items), figures }));
      },
    );
}
