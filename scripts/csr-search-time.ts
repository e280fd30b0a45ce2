// How long CSR's sentence-level search takes per image on a model (the figure recipes/csr.yaml's
// budget is set from, README's CSR section): the search of `csr-iteration` (KV-cached, batched)
// over `--images` pool images of a built world, at the stage's defaults unless told otherwise,
// timed, with what it found: finished paths, sentences proposed, levels, words of the pairs.
// Usage: node --import tsx scripts/csr-search-time.ts [--model assets/base] [--scorer assets/scorer]
//          [--world runs/world] [--images 3] [--beams 5] [--keep-worst 2] [--threads 1] [--json]
// (`selfsynth world build --split pool` makes a world; any pool size will do.)
import { parseArgs } from "node:util";
import { EmbeddedBackend, EmbeddedImageTextScorer, imageInput } from "../src/backends/embedded.js";
import { setNumThreads } from "../src/engine/index.js";
import { poolItems } from "../src/methods/common/world-items.js";
import { EmbeddedCandidateGenerator } from "../src/methods/csr/embedded-candidates.js";
import { csrPrompts } from "../src/methods/csr/prompts.js";
import { sentenceSearch } from "../src/methods/csr/search.js";
import { candidateOptions, SearchConfigSchema, searchOptions } from "../src/methods/csr/search-config.js";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "assets/base" },
    scorer: { type: "string", default: "assets/scorer" },
    world: { type: "string", default: "runs/world" },
    images: { type: "string", default: "3" },
    beams: { type: "string", default: "5" },
    "keep-worst": { type: "string", default: "2" },
    threads: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});
const count = (name: string, text: string | undefined) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: ${text} is not a positive integer`);
  return n;
};
setNumThreads(count("threads", values.threads));
const beams = count("beams", values.beams);
const config = SearchConfigSchema.parse({
  proposal: { beams, groups: beams, returned: beams },
  keep: { best: 1, worst: Number(values["keep-worst"]) },
});
const backend = EmbeddedBackend.load(values.model as string);
const scorer = EmbeddedImageTextScorer.load(values.scorer as string);
const items = poolItems(values.world as string, count("images", values.images), 0);
const generator = new EmbeddedCandidateGenerator(backend.model, backend.tokenizer, {
  ...candidateOptions(config),
  seed: 0,
  pixels: (r) => imageInput(r.prompt.image, backend.model.config.vision.imageSize, r.prompt.id),
});
const t0 = performance.now();
const searches = await sentenceSearch(csrPrompts(items, 0), generator, scorer, searchOptions(config));
const seconds = (performance.now() - t0) / 1000;
const words = (t: string) => t.split(/\s+/).filter(Boolean).length;
const summary = {
  images: items.length,
  seconds: Number(seconds.toFixed(1)),
  secondsPerImage: Number((seconds / items.length).toFixed(1)),
  sentences: searches.reduce((a, s) => a + s.sentences, 0),
  finishedPaths: searches.map((s) => s.finished.length),
  longestPathSentences: Math.max(...searches.flatMap((s) => s.finished.map((f) => f.relevance.length))),
  meanWords: Number(
    searches
      .flatMap((s) => s.finished.map((f) => words(f.response)))
      .reduce((a, b, _, all) => a + b / all.length, 0)
      .toFixed(1),
  ),
  cleaned: searches.map((s) => s.cleaned),
};
if (!values.json)
  for (const s of searches) console.log(`${s.prompt.id}: ${s.finished[0]?.response ?? "(no finished path)"}`);
console.log(JSON.stringify(summary));
await scorer.close();
await backend.close();
