// `selfsynth view`'s HTTP server, on node:http (five GET routes need no framework):
//   GET /                   the page (page.ts): a small script over the JSON API below
//   GET /api/files          the folder's record files
//   GET /api/facets?file=   what a file's rows can be filtered by (filters.ts)
//   GET /api/records?file=&offset=&limit=&reason=&method=&source=&score=&minScore=&maxScore=
//   GET /files/<path>       a file under the data folder (the records' images)
// Every request path is checked before routing (safe-path.ts): a path that would leave the data
// folder is answered 403 with the reason, whatever the route. Bound to loopback by default; then
// requests must also name a loopback host, so that a web page elsewhere cannot reach the viewer
// through a DNS name rebound to 127.0.0.1. A failing request is answered with its error (JSON
// for the API); it never stops the server.
import { createReadStream } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname } from "node:path";
import { openDataFolder } from "./data-folder.js";
import { BadQueryError, parseFilter } from "./filters.js";
import { renderViewPage } from "./page.js";
import { RecordsIndex, UnknownFileError } from "./records-index.js";
import { checkRequestPath, hasParentSegment, servedFile } from "./safe-path.js";

export interface ViewServerOptions {
  /** The folder to show: a stage's data folder or an export folder. */
  data: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
}

export interface ViewServer {
  url: string;
  host: string;
  port: number;
  /** The data folder's real path. */
  root: string;
  close(): Promise<void>;
}

const DEFAULT_PAGE_ROWS = 20;
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** The page runs its own inline script and reads only from this server. */
const PAGE_POLICY =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'";

const CONTENT_TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".json": "application/json; charset=utf-8",
  ".jsonl": "text/plain; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

/** An answer other than 200, with the message the client shows. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Opens the folder (a ViewError names it and the problem) and listens. */
export async function startViewServer(options: ViewServerOptions): Promise<ViewServer> {
  const folder = openDataFolder(options.data);
  const index = new RecordsIndex(folder.root);
  const host = options.host ?? "127.0.0.1";
  const loopbackOnly = LOOPBACK_HOSTS.has(host);

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => fail(res, error));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, `${req.method}: only GET is served`);
    if (loopbackOnly && !LOOPBACK_HOSTS.has(hostName(req.headers.host))) {
      throw new HttpError(403, `Host ${JSON.stringify(req.headers.host)}: the viewer answers loopback hosts only`);
    }
    const raw = req.url ?? "/";
    const queryAt = raw.indexOf("?");
    const checked = checkRequestPath(queryAt === -1 ? raw : raw.slice(0, queryAt));
    if (!checked.ok) throw new HttpError(checked.status, `refused: ${checked.message}`);
    const path = checked.path;
    const query = new URLSearchParams(queryAt === -1 ? "" : raw.slice(queryAt + 1));

    if (path === "/") {
      send(res, 200, "text/html; charset=utf-8", renderViewPage({ root: folder.root, files: index.files() }), {
        "Content-Security-Policy": PAGE_POLICY,
      });
    } else if (path === "/api/files") {
      sendJson(res, 200, { root: folder.root, files: index.files() });
    } else if (path === "/api/facets") {
      sendJson(res, 200, await index.facets(fileParam(query)));
    } else if (path === "/api/records") {
      const file = fileParam(query);
      const offset = intParam(query, "offset", 0, 0);
      const limit = intParam(query, "limit", DEFAULT_PAGE_ROWS, 1);
      sendJson(res, 200, await index.page(file, parseFilter(query), offset, limit));
    } else if (path.startsWith("/files/")) {
      const served = servedFile(folder.root, path.slice("/files/".length));
      if (!served.ok)
        throw new HttpError(served.status, served.status === 403 ? `refused: ${served.message}` : served.message);
      const type = CONTENT_TYPES[extname(served.file).toLowerCase()] ?? "application/octet-stream";
      res.writeHead(200, { "Content-Type": type, "X-Content-Type-Options": "nosniff" });
      if (req.method === "HEAD") {
        res.end();
        return;
      }
      const stream = createReadStream(served.file);
      stream.on("error", (error) => res.destroy(error));
      stream.pipe(res);
    } else {
      throw new HttpError(404, `${path}: no such page (the page is /)`);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/`,
    host,
    port,
    root: folder.root,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections of an open page would hold close() until they time out.
        server.closeAllConnections();
      }),
  };
}

/** The `file` parameter: a name of a record file directly in the folder, never a path. */
function fileParam(query: URLSearchParams): string {
  const file = query.get("file");
  if (file === null || file === "") throw new HttpError(400, "file: name a record file (see /api/files)");
  if (file.includes("/") || file.includes("\\") || hasParentSegment(file)) {
    throw new HttpError(403, `refused: file ${JSON.stringify(file)}: a record file's name, not a path, is expected`);
  }
  return file;
}

function intParam(query: URLSearchParams, name: string, fallback: number, min: number): number {
  const value = query.get(name);
  if (value === null || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new HttpError(400, `${name}: expected an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** The host name of a Host header, without its port. */
function hostName(header: string | undefined): string {
  if (header === undefined) return "";
  if (header.startsWith("[")) return header.slice(0, header.indexOf("]") + 1);
  const colon = header.lastIndexOf(":");
  return colon === -1 ? header : header.slice(0, colon);
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    "Content-Type": type,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    ...headers,
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, "application/json; charset=utf-8", JSON.stringify(value));
}

/** The error as the answer: JSON `{error}` for the API, plain text elsewhere. */
function fail(res: ServerResponse, error: unknown): void {
  const status =
    error instanceof HttpError
      ? error.status
      : error instanceof BadQueryError
        ? 400
        : error instanceof UnknownFileError
          ? 404
          : 500;
  const message = error instanceof Error ? error.message : String(error);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const api = res.req.url?.startsWith("/api/") === true;
  if (api) sendJson(res, status, { error: message });
  else send(res, status, "text/plain; charset=utf-8", `${status} ${message}\n`);
}
