// `selfsynth serve`: an OpenAI-compatible HTTP server (with vLLM's extensions) over the embedded
// VLM, on node:http (five routes need no framework). Routes:
//   POST /v1/chat/completions   chat.ts
//   GET  /v1/models             the one served model
//   POST /tokenize, /detokenize tokenize.ts
//   GET  /health                200 while serving, 503 while shutting down
// Requests are validated (schema.ts), turned into jobs (chat.ts), and batched through the model
// (batcher.ts, model-runner.ts). The model runs on this thread: while a batch runs, nothing else
// does; a stream's token events are written as generate() draws the tokens (the socket writes
// go out at once), except when stop strings, top_logprobs or prompt_logprobs need the finished
// sample first: those streams are written when it is complete.
// Shutdown (close()): stop accepting connections, answer new requests on open connections with
// 503, let the requests in flight finish, then close every connection.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Tokenizer } from "../models/tokenizer.js";
import type { VLM } from "../models/vlm.js";
import { loadVLM } from "../models/vlm-io.js";
import { Batcher, QueueFullError } from "./batcher.js";
import {
  buildChatJob,
  type ChatContext,
  chatChunks,
  chatCompletion,
  DEFAULT_LIMITS,
  newResponseMeta,
  type ServeLimits,
} from "./chat.js";
import { ApiError, toApiError } from "./errors.js";
import { CancelledError, type ChatJob, type ChatResult, ModelRunner } from "./model-runner.js";
import { ChatCompletionRequest, parseBody } from "./schema.js";

const SSE_HEADERS = { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" };

/** Whether a stream can be written token by token: nothing in it needs the finished sample. */
function streamsLive(job: ChatJob): boolean {
  return job.sampling.stop.length === 0 && !job.topLogprobs && job.promptLogprobs === null;
}

import { detokenize, tokenize } from "./tokenize.js";

export interface ServeOptions {
  /** A checkpoint directory written by saveVLM; or model and tokenizer directly. */
  modelDir?: string;
  model?: VLM;
  tokenizer?: Tokenizer;
  /** The name clients send as `model` (default: modelDir as given, as vLLM does, else "selfsynth"). */
  modelName?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  limits?: Partial<ServeLimits>;
  /** Quiet gap after the last arrival before a batch starts (default 5 ms). */
  batchWindowMs?: number;
  /** The longest a batch's first request waits for others (default 50 ms). */
  batchMaxWaitMs?: number;
  /** Most samples (sum of n) per batch (default 64). */
  maxBatchRows?: number;
  /** One line per request and lifecycle event (default: silent). */
  log?: (line: string) => void;
}

export interface ServerStats {
  /** generate() calls so far (batched sampler passes). */
  generateCalls: number;
  /** Requests served by those calls. */
  generatedRequests: number;
  batches: number;
  inFlight: number;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  modelName: string;
  stats(): ServerStats;
  /** Stops accepting, finishes requests in flight, closes connections (after timeoutMs, forcibly). */
  close(options?: { timeoutMs?: number }): Promise<void>;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const { model, tokenizer, owned } = loadModel(options);
  const limits: ServeLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const modelName = options.modelName ?? options.modelDir ?? "selfsynth";
  const ctx: ChatContext = { model, tokenizer, modelName, limits };
  const runner = new ModelRunner(model, tokenizer);
  const batcher = new Batcher<ChatJob, ChatResult>((jobs) => runner.run(jobs), {
    windowMs: options.batchWindowMs ?? 5,
    maxWaitMs: options.batchMaxWaitMs ?? 50,
    maxRows: options.maxBatchRows ?? 64,
    maxPending: limits.maxPending,
  });
  const log = options.log ?? (() => {});
  let closing = false;
  let inFlight = 0;
  let drained: (() => void) | null = null;

  const server = createServer((req, res) => {
    inFlight++;
    res.on("close", () => {
      inFlight--;
      if (inFlight === 0) drained?.();
    });
    const started = Date.now();
    handle(req, res)
      .catch((error: unknown) => sendError(res, toApiError(error)))
      .finally(() => log(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (closing) {
      res.setHeader("Connection", "close");
      throw new ApiError(503, "the server is shutting down", null, "shutting_down");
    }
    const path = (req.url ?? "/").split("?")[0];
    const route = `${req.method} ${path}`;
    switch (route) {
      case "GET /health":
        res.writeHead(200).end();
        return;
      case "GET /v1/models":
        sendJson(res, 200, modelList(ctx));
        return;
      case "POST /tokenize":
        sendJson(
          res,
          200,
          tokenize({ ...ctx, maxImagesPerRequest: limits.maxImagesPerRequest }, await readJson(req, limits)),
        );
        return;
      case "POST /detokenize":
        sendJson(
          res,
          200,
          detokenize({ ...ctx, maxImagesPerRequest: limits.maxImagesPerRequest }, await readJson(req, limits)),
        );
        return;
      case "POST /v1/chat/completions":
        await chat(req, res);
        return;
    }
    const known = ["/health", "/v1/models", "/tokenize", "/detokenize", "/v1/chat/completions"];
    if (known.includes(path))
      throw new ApiError(405, `method ${req.method} is not allowed on ${path}`, null, "method_not_allowed");
    throw new ApiError(404, `no route ${req.method} ${path}`, null, "not_found");
  }

  async function chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = parseBody(ChatCompletionRequest, await readJson(req, limits));
    let gone = false;
    res.on("close", () => {
      gone = !res.writableFinished;
    });
    const job = await buildChatJob(ctx, body, () => gone);
    const meta = newResponseMeta(modelName);
    let sent = 0; // stream events already written
    const flush = (chunks: object[]) => {
      if (!res.headersSent) res.writeHead(200, SSE_HEADERS);
      for (; sent < chunks.length; sent++) res.write(`data: ${JSON.stringify(chunks[sent])}\n\n`);
      // res.write corks the socket until the next tick, which a synchronous generate() holds off:
      // uncork, so that the events leave now.
      res.socket?.uncork();
    };
    if (body.stream && streamsLive(job)) {
      // The events of the partial sample so far, without the closing ones (finish, usage): the
      // events are prefix-stable, so the final list starts with exactly what was written.
      const ids: number[] = [];
      const logprobs: number[] = [];
      const closing = body.stream_options?.include_usage ? 2 : 1;
      job.onToken = (id, logprob) => {
        if (gone) return;
        ids.push(id);
        logprobs.push(logprob);
        const text = ctx.tokenizer.decode(ids, { skipSpecial: true });
        const partial: ChatResult = {
          samples: [{ text, tokenIds: ids, logprobs, finishReason: "length", stopString: null }],
          top: [null],
          prompt: null,
        };
        const chunks = chatChunks(ctx, body, job, partial, meta);
        flush(chunks.slice(0, chunks.length - closing));
      };
    }
    let result: ChatResult;
    try {
      result = await batcher.submit(job, job.sampling.n);
    } catch (error) {
      if (res.headersSent) {
        // Tokens were streamed already: the error can only travel as an event.
        res.end(`data: ${JSON.stringify({ error: toApiError(error).toBody().error })}\n\ndata: [DONE]\n\n`);
        return;
      }
      if (error instanceof QueueFullError)
        throw new ApiError(503, `the server is busy: ${error.message}`, null, "queue_full");
      if (error instanceof CancelledError) return;
      throw error;
    }
    if (!body.stream) {
      sendJson(res, 200, chatCompletion(ctx, body, job, result, meta));
      return;
    }
    flush(chatChunks(ctx, body, job, result, meta));
    res.end("data: [DONE]\n\n");
  }

  // `Expect: 100-continue` (curl sends it for large bodies): refuse an oversized body before it is sent.
  server.on("checkContinue", (req, res) => {
    if (Number(req.headers["content-length"] ?? 0) > limits.maxBodyBytes) {
      inFlight++;
      res.on("close", () => {
        inFlight--;
        if (inFlight === 0) drained?.();
      });
      const size = `${req.headers["content-length"]} bytes`;
      sendError(
        res,
        new ApiError(
          413,
          `the request body (${size}) is larger than the limit of ${limits.maxBodyBytes} bytes`,
          null,
          "request_too_large",
        ),
      );
      return;
    }
    res.writeContinue();
    server.emit("request", req, res);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8000, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log(`serving ${modelName} at ${url}/v1`);

  let closed: Promise<void> | null = null;
  const close = (closeOptions: { timeoutMs?: number } = {}): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timeoutMs = closeOptions.timeoutMs ?? 60_000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      const finished = new Promise<void>((resolve) => {
        drained = resolve;
        if (inFlight === 0) resolve();
      });
      await Promise.race([Promise.all([finished, batcher.idle()]), timeout]);
      clearTimeout(timer);
      // Past the timeout: cut the connections; their queued jobs are then skipped as cancelled.
      server.closeAllConnections();
      await stopped;
      await batcher.idle();
      if (owned) model.dispose();
      log("server closed");
    })();
    return closed;
  };
  return {
    url,
    host: address.address,
    port: address.port,
    modelName,
    stats: () => ({ ...runner.stats, batches: batcher.batches, inFlight }),
    close,
  };
}

function loadModel(options: ServeOptions): { model: VLM; tokenizer: Tokenizer; owned: boolean } {
  if (options.model !== undefined && options.tokenizer !== undefined) {
    return { model: options.model, tokenizer: options.tokenizer, owned: false };
  }
  if (options.modelDir === undefined) throw new Error("startServer: give modelDir, or model and tokenizer");
  const { model, tokenizer } = loadVLM(options.modelDir);
  return { model, tokenizer, owned: true };
}

function modelList(ctx: ChatContext) {
  return {
    object: "list",
    data: [
      {
        id: ctx.modelName,
        object: "model",
        created: Math.floor(Date.now() / 1000),
        owned_by: "selfsynth",
        root: ctx.modelName,
        parent: null,
        max_model_len: ctx.model.config.decoder.maxPositions,
      },
    ],
  };
}

/** The body as JSON, refused with 413 past maxBodyBytes (the rest is drained, not buffered). */
function readJson(req: IncomingMessage, limits: ServeLimits): Promise<unknown> {
  const max = limits.maxBodyBytes;
  const tooLarge = (size: string) =>
    new ApiError(413, `the request body (${size}) is larger than the limit of ${max} bytes`, null, "request_too_large");
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) chunks.push(chunk);
      // A client that keeps sending far past the limit is cut off.
      else if (size > 4 * max + (1 << 20)) {
        // A client that keeps sending far past the limit: answer now, then close (sendError).
        req.pause();
        reject(tooLarge(Number.isFinite(declared) ? `${declared} bytes` : `over ${max} bytes`));
      }
    });
    req.on("error", reject);
    req.on("close", () => {
      if (!req.complete) reject(new ApiError(400, "the client closed the connection mid-request", null, "aborted"));
    });
    req.on("end", () => {
      if (size > max) return reject(tooLarge(Number.isFinite(declared) ? `${declared} bytes` : `over ${max} bytes`));
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (error) {
        reject(new ApiError(400, `the body is not valid JSON (${(error as Error).message})`, null, "invalid_json"));
      }
    });
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, error: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // After a 413 the rest of the body may still be coming: close the connection once answered.
  if (error.status === 413) res.setHeader("Connection", "close");
  sendJson(res, error.status, error.toBody());
}
