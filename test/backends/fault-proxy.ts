// A fault-injecting HTTP proxy for tests: sits on 127.0.0.1 in front of a server and, on a seeded
// share of requests, drops the connection, answers 429 (with Retry-After) or 500, stalls without
// answering (past the client's timeout), or answers 200 with a truncated (malformed) JSON body.
//
// Deterministic and bounded: the fault of a request is a hash of (seed, request key, how many
// times that key was seen), the key being the x-selfsynth-request header the HTTP backend sends;
// after maxFaultsPerKey faults on one key its requests pass through, so every item completes
// within a retry budget of maxFaultsPerKey + 1 attempts. It counts requests in flight (for
// concurrency limits) and complete 200 answers delivered per key (for "answered exactly once").
import { createHash } from "node:crypto";
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type Fault = "drop" | "429" | "500" | "stall" | "malformed";
export const FAULTS: readonly Fault[] = ["drop", "429", "500", "stall", "malformed"];

export interface FaultProxyOptions {
  /** The server behind the proxy, e.g. http://127.0.0.1:8000. */
  target: string;
  seed?: number;
  /** The share of requests given each fault (their sum at most 1). */
  rates?: Partial<Record<Fault, number>>;
  /** After this many faults on one key, its requests pass through (default 3). */
  maxFaultsPerKey?: number;
  /** The Retry-After of a 429, in seconds (default "1"). */
  retryAfter?: string;
  /** Only requests whose path passes get faults (default: all). */
  faultable?: (path: string) => boolean;
}

export interface FaultProxyStats {
  requests: number;
  faults: Record<Fault, number>;
  inFlight: number;
  maxInFlight: number;
  /** Complete 200 answers passed through, per request key. */
  delivered: Map<string, number>;
  /** Requests seen per key. */
  seen: Map<string, number>;
}

export interface FaultProxy {
  url: string;
  stats: FaultProxyStats;
  close(): Promise<void>;
}

function unit(seed: number, key: string, n: number): number {
  return createHash("sha256").update(`${seed}:${key}:${n}`).digest().readUInt32BE(0) / 2 ** 32;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const seed = options.seed ?? 0;
  const rates = options.rates ?? {};
  const maxFaults = options.maxFaultsPerKey ?? 3;
  const faultable = options.faultable ?? (() => true);
  const agent = new Agent({ keepAlive: true });
  const faultsOf = new Map<string, number>();
  const sockets = new Set<Socket>();
  const stats: FaultProxyStats = {
    requests: 0,
    faults: { drop: 0, "429": 0, "500": 0, stall: 0, malformed: 0 },
    inFlight: 0,
    maxInFlight: 0,
    delivered: new Map(),
    seen: new Map(),
  };
  let anonymous = 0;

  const pick = (key: string, path: string): Fault | null => {
    const n = stats.seen.get(key) ?? 0;
    stats.seen.set(key, n + 1);
    if (!faultable(path) || (faultsOf.get(key) ?? 0) >= maxFaults) return null;
    let u = unit(seed, key, n);
    for (const fault of FAULTS) {
      const rate = rates[fault] ?? 0;
      if (u < rate) {
        faultsOf.set(key, (faultsOf.get(key) ?? 0) + 1);
        stats.faults[fault]++;
        return fault;
      }
      u -= rate;
    }
    return null;
  };

  /** Sends the request upstream; resolves with status, headers and the whole body. */
  const forward = (req: IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>(
      (resolve, reject) => {
        const up = httpRequest(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: target.host, "content-length": String(body.length) },
            agent,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
              resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
            );
            res.on("error", reject);
          },
        );
        up.on("error", reject);
        up.end(body);
      },
    );

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    stats.requests++;
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    res.on("close", () => {
      stats.inFlight--;
    });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const header = req.headers["x-selfsynth-request"];
    const key = typeof header === "string" ? header : `anonymous:${anonymous++}`;
    const path = req.url ?? "/";
    const fault = pick(key, path);
    switch (fault) {
      case "drop":
        req.socket.destroy();
        return;
      case "stall":
        return; // never answers; the client's deadline aborts it, close() ends it
      case "429":
        res.writeHead(429, { "content-type": "application/json", "retry-after": options.retryAfter ?? "1" });
        res.end(JSON.stringify({ error: { message: "rate limited (fault proxy)", type: "rate_limit_error" } }));
        return;
      case "500":
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "internal error (fault proxy)", type: "internal_server_error" } }));
        return;
      default:
    }
    let answer: Awaited<ReturnType<typeof forward>>;
    try {
      answer = await forward(req, body);
    } catch (error) {
      res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: `proxy: ${(error as Error).message}` } }));
      return;
    }
    if (fault === "malformed") {
      // The real answer cut in half: a 200 whose JSON does not parse.
      const cut = answer.body.subarray(0, Math.max(1, Math.floor(answer.body.length / 2)));
      res.writeHead(200, { "content-type": "application/json", "content-length": String(cut.length) });
      res.end(cut);
      return;
    }
    const headers = { ...answer.headers };
    delete headers["transfer-encoding"];
    delete headers.connection;
    delete headers["keep-alive"];
    headers["content-length"] = String(answer.body.length);
    res.writeHead(answer.status, headers);
    // Counted once flushed to a client still there: an answer the client gave up on is no delivery.
    res.end(answer.body, (error?: Error | null) => {
      if (error == null && answer.status === 200) stats.delivered.set(key, (stats.delivered.get(key) ?? 0) + 1);
    });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(error));
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
