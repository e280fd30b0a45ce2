// The viewer's server: only files under the data folder are served (`..` plain, encoded or with
// backslashes, absolute paths and symlinks that lead out are refused with 403 and the reason),
// bad requests are answered with their error and never stop it, the API pages what
// RecordsIndex pages, and `selfsynth view` refuses a folder it cannot show, naming it.
// Requests go through node:http with the path exactly as written: fetch would resolve `..` and
// `%2e%2e` before sending, and the server must refuse them itself.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Command } from "commander";
import { registerView } from "../../src/cli/commands/view.js";
import { openDataFolder, ViewError } from "../../src/report/view/data-folder.js";
import { RecordsIndex } from "../../src/report/view/records-index.js";
import { checkRequestPath, servedFile } from "../../src/report/view/safe-path.js";
import { startViewServer, type ViewServer } from "../../src/report/view/server.js";
import { cleanup, tempDir } from "../data/fixtures.js";
import { PAIR_LINES, type ViewFixture, viewFixture } from "./view-fixtures.js";

let fixture: ViewFixture;
let server: ViewServer;
before(async () => {
  fixture = await viewFixture();
  server = await startViewServer({ data: fixture.data, port: 0 });
});
after(async () => {
  await server?.close();
  cleanup();
});

interface Answer {
  status: number;
  type: string;
  body: Buffer;
}

/** A request with the path sent exactly as written. */
function get(path: string, options: { method?: string; host?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: server.port,
        path,
        method: options.method ?? "GET",
        headers: options.host === undefined ? {} : { host: options.host },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers["content-type"] ?? "",
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

test("checkRequestPath: `..` in any spelling and NUL bytes are refused (403); broken encoding is 400", () => {
  const refused = [
    "/files/../../etc/passwd",
    "/files/..%2F..%2Fetc%2Fpasswd",
    "/files/%2e%2e/%2E%2E/etc/passwd",
    "/files/images/..%5C..%5Cetc%5Cpasswd",
    "/files/..\\secret",
    "/..",
    "/files/a%00b",
  ];
  for (const path of refused) {
    const check = checkRequestPath(path);
    assert.equal(check.ok ? 200 : check.status, 403, path);
  }
  const broken = checkRequestPath("/files/%E0%A4%A");
  assert.deepEqual(broken, { ok: false, status: 400, message: "/files/%E0%A4%A: malformed percent-encoding" });
  // Dots that are not a whole `..` segment are names like any other.
  assert.deepEqual(checkRequestPath("/files/a..b/..c/%2e"), { ok: true, path: "/files/a..b/..c/." });
});

test("servedFile: regular files under the folder only; absolute paths and symlinks out are refused", () => {
  const image = fixture.images[0];
  assert.deepEqual(servedFile(fixture.data, image), { ok: true, file: join(fixture.data, image) });
  const status = (path: string) => {
    const check = servedFile(fixture.data, path);
    return check.ok ? 200 : check.status;
  };
  assert.equal(status("/etc/passwd"), 403);
  assert.equal(status("secret-link.txt"), 403);
  assert.equal(status("images/outside-dir/secret.txt"), 403);
  assert.equal(status("linked.jsonl"), 403);
  assert.equal(status("images"), 404);
  assert.equal(status("images/none.png"), 404);
  const symlink = servedFile(fixture.data, "secret-link.txt");
  assert.match(symlink.ok ? "" : symlink.message, /resolves outside the dataset root \(symlink\)/);
});

test("over HTTP: every way out of the folder is 403 with its reason, nothing outside is ever sent", async () => {
  const outOfFolder = [
    "/files/../../etc/passwd",
    "/files/..%2F..%2Fetc%2Fpasswd",
    "/files/%2e%2e/%2e%2e/etc/passwd",
    "/files/images%2F..%2F..%2Foutside%2Fsecret.txt",
    "/files/..%5C..%5Coutside%5Csecret.txt",
    "/files//etc/passwd",
    "/files/%2Fetc%2Fpasswd",
    "/files/secret-link.txt",
    "/files/images/outside-dir/secret.txt",
    "/../etc/passwd",
    "/api/records?file=..%2Foutside%2Frecords.jsonl",
    "/api/records/../../etc/passwd",
  ];
  for (const path of outOfFolder) {
    const answer = await get(path);
    assert.equal(answer.status, 403, path);
    const text = answer.body.toString();
    assert.match(text, /refused: /, path);
    assert.doesNotMatch(text, /not for the viewer|root:/, path);
  }
  const dotDot = (await get("/files/..%2F..%2Fetc%2Fpasswd")).body.toString();
  assert.equal(
    dotDot,
    '403 refused: /files/..%2F..%2Fetc%2Fpasswd: ".." would leave the data folder; only files under it are served\n',
  );
  const link = await get("/files/secret-link.txt");
  assert.match(link.body.toString(), /secret-link\.txt" resolves outside the dataset root \(symlink\)/);
});

test("over HTTP: images are served with their type; other bad requests get their status and message", async () => {
  const image = await get(`/files/${fixture.images[1]}`);
  assert.equal(image.status, 200);
  assert.equal(image.type, "image/png");
  assert.deepEqual(image.body, readFileSync(join(fixture.data, fixture.images[1])));

  const cases: [string, number, RegExp, { method?: string; host?: string }?][] = [
    ["/files/images", 404, /images: not a file/],
    ["/files/images/none.png", 404, /no such file in the data folder/],
    ["/files/%E0%A4%A", 400, /malformed percent-encoding/],
    ["/nowhere", 404, /no such page/],
    ["/api/records?file=linked.jsonl", 404, /linked\.jsonl: not a record file/],
    ["/api/records", 400, /file: name a record file/],
    ["/api/records?file=pairs.jsonl&limit=0", 400, /limit: expected an integer >= 1, got "0"/],
    ["/api/records?file=pairs.jsonl&offset=-3", 400, /offset: expected an integer >= 0/],
    ["/api/records?file=pairs.jsonl&minScore=1", 400, /score=NAME/],
    ["/api/facets?file=nope.jsonl", 404, /nope\.jsonl: not a record file/],
    ["/", 405, /POST: only GET is served/, { method: "POST" }],
    ["/", 403, /Host "evil\.example:80": the viewer answers loopback hosts only/, { host: "evil.example:80" }],
  ];
  for (const [path, status, message, options] of cases) {
    const answer = await get(path, options);
    assert.equal(answer.status, status, path);
    const text = answer.body.toString();
    // The API answers JSON {error}; other routes plain text.
    const shown = path.startsWith("/api/") ? (JSON.parse(text) as { error: string }).error : text;
    assert.match(shown, message, path);
  }
  // Still serving after all of that.
  assert.equal((await get("/api/files")).status, 200);
});

test("the API pages what RecordsIndex pages; the page lists the files, escaped", async () => {
  const answer = await get("/api/records?file=pairs.jsonl&offset=20&limit=10&reason=");
  assert.equal(answer.status, 200);
  assert.match(answer.type, /^application\/json/);
  const expected = await new RecordsIndex(fixture.data).page("pairs.jsonl", {}, 20, 10);
  assert.deepEqual(JSON.parse(answer.body.toString()), JSON.parse(JSON.stringify(expected)));
  const files = JSON.parse((await get("/api/files")).body.toString()) as { files: { name: string }[] };
  assert.deepEqual(
    files.files.map((f) => f.name),
    ["drops.jsonl", "infused.jsonl", "pairs.jsonl"],
  );
  assert.equal(expected.total, PAIR_LINES);

  const dir = tempDir("view-page");
  writeFileSync(join(dir, `<b>&"odd".jsonl`), "");
  const odd = await startViewServer({ data: dir });
  try {
    const page = await fetch(odd.url);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    const html = await page.text();
    const shown = "&lt;b&gt;&amp;&quot;odd&quot;.jsonl";
    assert.ok(html.includes(`<button type="button" data-file="${shown}">${shown}</button>`), html);
    assert.doesNotMatch(html, /<b>/);
  } finally {
    await odd.close();
  }
});

test("a folder that is missing, not a folder, empty or without record files is refused naming it", () => {
  const base = tempDir("view-bad");
  const file = join(base, "file.txt");
  writeFileSync(file, "x");
  const empty = join(base, "empty");
  mkdirSync(empty);
  const parquet = join(base, "parquet");
  mkdirSync(parquet);
  writeFileSync(join(parquet, "sft.parquet"), "PAR1");
  writeFileSync(join(parquet, "dataset_info.json"), "{}");
  const cases: [string, RegExp][] = [
    [join(base, "missing"), /missing: no such folder$/],
    [file, /file\.txt: not a folder/],
    [empty, /empty: no record files: the folder is empty/],
    [parquet, /parquet: no record files .*found: dataset_info\.json, sft\.parquet; Parquet exports .* not viewable/],
  ];
  for (const [path, message] of cases) {
    assert.throws(
      () => openDataFolder(path),
      (e: Error) => e instanceof ViewError && message.test(e.message) && e.message.startsWith(path),
      path,
    );
  }
});

test("selfsynth view: prints the URL, serves until told to stop, then closes; a bad DATA is an error", async () => {
  const printed: string[] = [];
  let served = 0;
  const program = new Command().exitOverride();
  registerView(
    program,
    (line) => printed.push(line),
    async () => {
      const page = await fetch(printed[0]);
      served = page.status;
      await page.text();
    },
  );
  await program.parseAsync(["node", "selfsynth", "view", fixture.data, "--port", "0"]);
  assert.equal(served, 200);
  assert.match(printed[0], /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.match(printed[1], /Ctrl-C to stop/);
  await assert.rejects(fetch(printed[0]), "closed after the stop");

  const missing = join(tempDir("view-cli"), "nope");
  const bad = new Command().exitOverride();
  registerView(
    bad,
    () => undefined,
    async () => assert.fail("must not serve"),
  );
  await assert.rejects(
    bad.parseAsync(["node", "selfsynth", "view", missing]),
    new RegExp(`${missing}: no such folder`),
  );
});
