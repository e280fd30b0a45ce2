// Serving benchmark: a generation batch through the HTTP backend and `selfsynth serve` (a child
// process, as deployed) against the embedded backend in this process, on the same checkpoint
// (the default VLM config, random weights, a small word vocabulary), the same requests (a 32x32
// PNG and a question each) and the same seeds, so both sides generate exactly the same tokens.
// Figures: generated tokens/s and requests/s per side, the ratio HTTP/embedded at the backend's
// default concurrency (goal >= 0.95), and serve at client concurrency 1, 4 and 16. Rounds
// alternate the sides; medians are reported. Both sides run the model on `--threads` libtorch
// threads (the server gets `serve --threads`).
//
// `--endpoints N` (N >= 2) measures instead how generation scales over several endpoints: N
// `selfsynth serve --threads 1` processes, server i pinned to core i with `taskset -c i`
// (util-linux), and the same batch through the HttpBackend with `baseUrls` listing server 0 alone,
// then all N (the same per-endpoint concurrency), rounds alternating the order. Figures: tokens/s
// of each side, their ratio (`two_endpoint_speedup` for N = 2) and each round's, whether both
// sides returned the same tokens (`identical`: seeds are per request, so they should), and how
// many requests each server took. Both sides run on pinned single cores, so one endpoint means
// one core and N endpoints N cores; the bench process itself (the client) is not pinned.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { EmbeddedBackend } from "../src/backends/embedded.js";
import { DEFAULT_CONCURRENCY, HttpBackend } from "../src/backends/http.js";
import type { GenerationParams, GenerationRequest, VisionLanguageModel } from "../src/backends/types.js";
import { setNumThreads } from "../src/engine/index.js";
import { encodePng } from "../src/images/codec.js";
import { Tokenizer } from "../src/models/tokenizer.js";
import { DEFAULT_VLM_CONFIG, VLM } from "../src/models/vlm.js";
import { saveVLM } from "../src/models/vlm-io.js";
import { median, round } from "./protocol.js";

export interface ServeBenchOptions {
  /** Requests in the timed batch. */
  requests: number;
  /** Samples per request. */
  n: number;
  maxTokens: number;
  temperature: number;
  threads: number;
  rounds: number;
  /** The client concurrency of the HTTP-vs-embedded ratio (the backend's default, 16). */
  concurrency: number;
  /** The concurrency sweep. */
  sweep: number[];
  /** 0 or 1: HTTP+serve against embedded; N >= 2: one pinned server against N (see the header). */
  endpoints: number;
}

export const DEFAULT_SERVE_BENCH: ServeBenchOptions = {
  requests: 32,
  n: 4,
  maxTokens: 24,
  temperature: 1,
  threads: 1,
  rounds: 3,
  concurrency: DEFAULT_CONCURRENCY,
  sweep: [1, 4, 16],
  endpoints: 0,
};

interface Measure {
  seconds: number;
  tokens: number;
  tokens_per_s: number;
  requests_per_s: number;
}

const WORDS =
  "describe the image what is on left right top bottom middle a an red blue green yellow purple orange " +
  "circle square triangle star heart cross diamond hexagon ring small large two three one is there yes no " +
  "and of in at near below above touching moving";

function buildCheckpoint(dir: string): void {
  const tokenizer = Tokenizer.build([WORDS, ". , ?"]);
  const model = new VLM({ ...DEFAULT_VLM_CONFIG, vocabSize: tokenizer.vocabSize }, { seed: 1 });
  saveVLM(dir, model, tokenizer);
  model.dispose();
}

async function buildRequests(count: number): Promise<GenerationRequest[]> {
  const questions = ["Describe the image.", "What is on the left?", "Is there a red circle?", "What is at the top?"];
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      let s = i * 7919 + 13;
      const data = Uint8Array.from({ length: 32 * 32 * 3 }, () => {
        s = (s * 1103515245 + 12345) % 2147483648;
        return s % 256;
      });
      const bytes = await encodePng({ width: 32, height: 32, data });
      return {
        id: `bench-${i}`,
        images: [{ bytes, mimeType: "image/png" as const }],
        messages: [{ role: "user" as const, content: `<image> ${questions[i % questions.length]}` }],
      };
    }),
  );
}

async function timeBatch(backend: VisionLanguageModel, requests: GenerationRequest[], p: GenerationParams) {
  const start = process.hrtime.bigint();
  const out = await backend.generate(requests, p);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const tokens = out.flat().reduce((sum, s) => sum + s.tokens.length, 0);
  const measure: Measure = {
    seconds: round(seconds, 3),
    tokens,
    tokens_per_s: round(tokens / seconds, 1),
    requests_per_s: round(requests.length / seconds, 2),
  };
  // Each request's tokens, and the whole batch's.
  const perRequest = out.map((r) => JSON.stringify(r.map((s) => s.tokens)));
  return { measure, perRequest, fingerprint: `[${perRequest.join(",")}]` };
}

/**
 * `selfsynth serve` in a child process (pinned to `core` with taskset when given); resolves with
 * its base URL once it listens.
 */
function spawnServe(modelDir: string, threads: number, core?: number): Promise<{ url: string; child: ChildProcess }> {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const node = [process.execPath];
  // taskset execs the command, so the child's pid is the server's own.
  const [command, ...prefix] = core === undefined ? node : ["taskset", "-c", String(core), ...node];
  const child = spawn(
    command,
    [
      ...prefix,
      "--import",
      "tsx",
      join(root, "src/cli/main.ts"),
      "serve",
      "--model",
      modelDir,
      "--served-model-name",
      "bench",
      "--port",
      "0",
      "--threads",
      String(threads),
      "--quiet",
    ],
    { cwd: root, stdio: ["ignore", "inherit", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let text = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const m = /at (http:\/\/\S+)\/v1/.exec(text);
      if (m) resolve({ url: m[1], child });
    });
    child.on("exit", (code) => reject(new Error(`selfsynth serve exited (${code}) before listening:\n${text}`)));
    child.on("error", (error) => reject(new Error(`cannot start selfsynth serve (${command}): ${error.message}`)));
  });
}

/** Checks that taskset runs and can pin to each of cores 0..n-1; throws saying what is missing. */
function checkTaskset(n: number): void {
  const probe = spawnSync("taskset", ["-c", "0", "true"], { encoding: "utf8" });
  if (probe.error !== undefined)
    throw new Error(
      `serve bench --endpoints: taskset not found (${probe.error.message}); it pins each server to its own core: install util-linux`,
    );
  const cores = availableParallelism();
  if (n > cores) throw new Error(`serve bench --endpoints ${n}: ${cores} cores available, one per server is needed`);
  for (let core = 0; core < n; core++) {
    const r = spawnSync("taskset", ["-c", String(core), "true"], { encoding: "utf8" });
    if (r.status !== 0)
      throw new Error(`serve bench --endpoints: taskset -c ${core} failed: ${(r.stderr || `exit ${r.status}`).trim()}`);
  }
}

function generationParams(o: ServeBenchOptions): GenerationParams {
  return {
    n: o.n,
    temperature: o.temperature,
    topP: 1,
    topK: 0,
    maxTokens: o.maxTokens,
    stop: [],
    seed: 7,
    logprobs: true,
  };
}

function summarize(ms: Measure[]) {
  return {
    tokens_per_s: round(median(ms.map((m) => m.tokens_per_s)), 1),
    requests_per_s: round(median(ms.map((m) => m.requests_per_s)), 2),
    tokens: ms[0]?.tokens ?? 0,
  };
}

export async function benchServe(options: Partial<ServeBenchOptions> = {}) {
  const o = { ...DEFAULT_SERVE_BENCH, ...options };
  setNumThreads(o.threads);
  if (o.endpoints >= 2) return benchEndpoints(o);
  const dir = mkdtempSync(join(tmpdir(), "selfsynth-bench-serve-"));
  let child: ChildProcess | null = null;
  const loadBefore = loadavg();
  try {
    buildCheckpoint(dir);
    const requests = await buildRequests(o.requests);
    const params = generationParams(o);
    const embedded = EmbeddedBackend.load(dir);
    const served = await spawnServe(dir, o.threads);
    child = served.child;
    const clients = new Map(
      [...new Set([o.concurrency, ...o.sweep])].map((c) => [
        c,
        new HttpBackend({ baseUrls: [`${served.url}/v1`], model: "bench", concurrency: c, timeoutMs: 600_000 }),
      ]),
    );
    // Every client probes the server before the timed runs.
    for (const client of clients.values()) await client.capabilities();
    // Warm-up (and the check that both sides generate the same tokens).
    const warm = requests.slice(0, Math.min(4, requests.length));
    const a = await timeBatch(embedded, warm, params);
    const b = await timeBatch(clients.get(o.concurrency) as HttpBackend, warm, params);
    const same = a.fingerprint === b.fingerprint;
    if (!same) console.error("serve bench: WARNING: HTTP and embedded samples differ");

    const direct: Measure[] = [];
    const http: Measure[] = [];
    const sweep = new Map<number, Measure[]>(o.sweep.map((c) => [c, []]));
    for (let r = 0; r < o.rounds; r++) {
      const sides: [Measure[], VisionLanguageModel][] = [
        [direct, embedded],
        [http, clients.get(o.concurrency) as HttpBackend],
      ];
      if (r % 2 === 1) sides.reverse();
      for (const [into, backend] of sides) {
        const { measure } = await timeBatch(backend, requests, params);
        into.push(measure);
        console.error(`serve bench round ${r}: ${backend.name} ${JSON.stringify(measure)}`);
      }
      for (const c of o.sweep) {
        const { measure } = await timeBatch(clients.get(c) as HttpBackend, requests, params);
        sweep.get(c)?.push(measure);
        console.error(`serve bench round ${r}: serve at concurrency ${c} ${JSON.stringify(measure)}`);
      }
    }
    await embedded.close();
    const embeddedSummary = summarize(direct);
    const httpSummary = summarize(http);
    const ratios = http.map((m, r) => round(m.tokens_per_s / direct[r].tokens_per_s, 3));
    return {
      options: o,
      same_samples: same,
      embedded: embeddedSummary,
      http: httpSummary,
      ratio: round(httpSummary.tokens_per_s / embeddedSummary.tokens_per_s, 3),
      // Each round's HTTP/embedded, measured back to back (less exposed to load drifting between rounds).
      ratio_by_round: ratios,
      ratio_median_of_rounds: round(median(ratios), 3),
      by_concurrency: Object.fromEntries([...sweep].map(([c, ms]) => [c, summarize(ms)])),
      load_average_before: loadBefore.map((x) => round(x, 2)),
      load_average_after: loadavg().map((x) => round(x, 2)),
    };
  } finally {
    child?.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Generation through one pinned server against N pinned servers (`--endpoints N`; see the header). */
async function benchEndpoints(o: ServeBenchOptions) {
  if (!Number.isInteger(o.endpoints) || o.endpoints < 2) throw new RangeError("--endpoints must be an integer >= 2");
  if (o.threads !== 1) throw new RangeError("--endpoints pins each server to one core: --threads must be 1");
  checkTaskset(o.endpoints);
  const dir = mkdtempSync(join(tmpdir(), "selfsynth-bench-endpoints-"));
  const children: ChildProcess[] = [];
  const loadBefore = loadavg();
  try {
    buildCheckpoint(dir);
    const requests = await buildRequests(o.requests);
    const params = generationParams(o);
    const cores = Array.from({ length: o.endpoints }, (_, i) => i);
    const urls: string[] = [];
    for (const core of cores) {
      const served = await spawnServe(dir, 1, core);
      children.push(served.child);
      urls.push(`${served.url}/v1`);
    }
    const client = (baseUrls: string[]) =>
      new HttpBackend({ baseUrls, model: "bench", concurrency: o.concurrency, timeoutMs: 600_000 });
    const one = client(urls.slice(0, 1));
    const all = client(urls);
    await one.capabilities();
    await all.capabilities();
    // Warm-up: every server once, through a client of its own.
    const warm = requests.slice(0, Math.min(4, requests.length));
    for (const url of urls) await timeBatch(client([url]), warm, params);

    const startedBefore = all.pool.endpoints.map((e) => e.started);
    const single: Measure[] = [];
    const multi: Measure[] = [];
    const prints = { single: new Set<string>(), multi: new Set<string>() };
    let differing = 0;
    for (let r = 0; r < o.rounds; r++) {
      const sides: [Measure[], Set<string>, HttpBackend, string][] = [
        [single, prints.single, one, "1 endpoint"],
        [multi, prints.multi, all, `${o.endpoints} endpoints`],
      ];
      if (r % 2 === 1) sides.reverse();
      const outputs: string[][] = [];
      for (const [into, fingerprints, backend, label] of sides) {
        const { measure, perRequest } = await timeBatch(backend, requests, params);
        into.push(measure);
        fingerprints.add(perRequest.join("\n"));
        outputs.push(perRequest);
        console.error(`serve bench round ${r}: ${label} ${JSON.stringify(measure)}`);
      }
      differing = Math.max(differing, outputs[0].filter((f, i) => f !== outputs[1][i]).length);
    }
    const oneSummary = summarize(single);
    const allSummary = summarize(multi);
    const speedups = multi.map((m, r) => round(m.tokens_per_s / single[r].tokens_per_s, 3));
    const speedup = round(allSummary.tokens_per_s / oneSummary.tokens_per_s, 3);
    const identical =
      differing === 0 &&
      prints.single.size === 1 &&
      prints.multi.size === 1 &&
      [...prints.single][0] === [...prints.multi][0];
    return {
      mode: "endpoints",
      options: o,
      endpoints: o.endpoints,
      cores,
      one_endpoint: oneSummary,
      all_endpoints: allSummary,
      speedup,
      ...(o.endpoints === 2 ? { two_endpoint_speedup: speedup } : {}),
      // Each round's N-endpoint/one-endpoint, measured back to back.
      speedup_by_round: speedups,
      speedup_median_of_rounds: round(median(speedups), 3),
      identical,
      // The most requests whose samples differed between the two sides in one round.
      differing_requests: differing,
      // Requests each server took from the N-endpoint client in the timed rounds, in core order.
      requests_by_endpoint: all.pool.endpoints.map((e, i) => e.started - startedBefore[i]),
      load_average_before: loadBefore.map((x) => round(x, 2)),
      load_average_after: loadavg().map((x) => round(x, 2)),
    };
  } finally {
    for (const child of children) child.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `npm run bench -- serve [options]`. */
export function registerServeBench(program: Command): void {
  const d = DEFAULT_SERVE_BENCH;
  program
    .command("serve")
    .description("a generation batch through the HTTP backend and `selfsynth serve` vs the embedded backend")
    .option("--requests <n>", "requests in the timed batch", String(d.requests))
    .option("--n <n>", "samples per request", String(d.n))
    .option("--max-tokens <n>", "tokens per sample at most", String(d.maxTokens))
    .option("--temperature <t>", "sampling temperature (0: greedy)", String(d.temperature))
    .option("--threads <n>", "libtorch threads of each side", String(d.threads))
    .option("--rounds <n>", "rounds, alternating the sides", String(d.rounds))
    .option("--concurrency <n>", "client concurrency of the HTTP/embedded ratio", String(d.concurrency))
    .option("--sweep <list>", "client concurrencies to measure serve at", d.sweep.join(","))
    .option(
      "--endpoints <n>",
      "N >= 2: instead, one server against N, each pinned to its own core (taskset -c i, --threads 1)",
      String(d.endpoints),
    )
    .option("--json", "end with one JSON line")
    .action(async (f: Record<string, string | boolean | undefined>) => {
      const summary = await benchServe({
        requests: Number(f.requests),
        n: Number(f.n),
        maxTokens: Number(f.maxTokens),
        temperature: Number(f.temperature),
        threads: Number(f.threads),
        rounds: Number(f.rounds),
        concurrency: Number(f.concurrency),
        sweep: String(f.sweep).split(",").map(Number),
        endpoints: Number(f.endpoints),
      });
      if ("mode" in summary) {
        const { one_endpoint: one, all_endpoints: all, speedup, endpoints } = summary;
        console.error(
          `serve: 1 endpoint ${one.tokens_per_s} tok/s, ${endpoints} endpoints ${all.tokens_per_s} tok/s, ` +
            `speedup ${speedup} (by round: ${summary.speedup_by_round.join(", ")}; their median ` +
            `${summary.speedup_median_of_rounds}); identical samples: ${summary.identical}; requests by endpoint ` +
            `${summary.requests_by_endpoint.join(", ")}; load average ${summary.load_average_before.join(" ")} -> ` +
            `${summary.load_average_after.join(" ")}`,
        );
        if (f.json) console.log(JSON.stringify(summary));
        return;
      }
      const { embedded, http, ratio, by_concurrency: sweep } = summary;
      console.error(
        `serve: embedded ${embedded.tokens_per_s} tok/s, HTTP+serve ${http.tokens_per_s} tok/s, ratio ${ratio} ` +
          `(by round: ${summary.ratio_by_round.join(", ")}; their median ${summary.ratio_median_of_rounds})`,
      );
      for (const [c, m] of Object.entries(sweep))
        console.error(`serve: concurrency ${c}: ${m.tokens_per_s} tok/s, ${m.requests_per_s} req/s`);
      if (f.json) console.log(JSON.stringify(summary));
    });
}
