import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { ImageStore, PathEscapeError, resolveInside } from "../../src/data/image-store.js";
import { ImageError } from "../../src/images/errors.js";
import { cleanup, jpeg, png, tempDir } from "./fixtures.js";

after(cleanup);

test("put stores PNG and JPEG under their sha256, idempotently, and read returns the bytes", async () => {
  const root = tempDir("store");
  const store = new ImageStore(root);
  const bytes = await png();
  const path = await store.put(bytes, "image/png");
  const sha = createHash("sha256").update(bytes).digest("hex");
  assert.equal(path, `images/${sha}.png`);
  assert.deepEqual(new Uint8Array(readFileSync(join(root, path))), bytes);
  assert.equal(await store.put(bytes, "image/png"), path);
  const j = await store.put(await jpeg(), "image/jpeg");
  assert.match(j, /^images\/[0-9a-f]{64}\.jpg$/);
  // Only the two images: no temporary files left behind.
  assert.deepEqual(readdirSync(join(root, "images")).sort(), [path.slice(7), j.slice(7)].sort());
  assert.deepEqual(store.read(path), bytes);
  assert.ok(store.has(j));
});

test("a corrupt image, a non-image and a mislabelled image are refused with the name given", async () => {
  const store = new ImageStore(tempDir("store"));
  const bytes = await png();
  await assert.rejects(store.put(bytes.subarray(0, bytes.length - 20), "image/png", "record r7 images[0]"), (e) => {
    assert.ok(e instanceof ImageError);
    assert.match(e.message, /^record r7 images\[0\]: png does not decode/);
    return true;
  });
  await assert.rejects(
    store.put(new Uint8Array([1, 2, 3, 4]), "image/png", "x.png"),
    /^ImageError: x\.png: not an image/,
  );
  await assert.rejects(store.put(bytes, "image/jpeg", "r8"), /r8: declared image\/jpeg but the bytes are a png image/);
  assert.equal(existsSync(join(store.root, "images")), false, "nothing written for refused images");
});

test("read verifies the content hash", async () => {
  const root = tempDir("store");
  const store = new ImageStore(root);
  const path = await store.put(await png(), "image/png");
  writeFileSync(join(root, path), await png([0, 255, 0]));
  assert.throws(() => store.read(path, "rec r1"), /rec r1: images\/[0-9a-f]+\.png: the stored bytes hash to/);
});

test("resolveInside accepts paths inside the root and refuses escapes, naming the input and the path", () => {
  const root = tempDir("root");
  mkdirSync(join(root, "images"));
  assert.equal(resolveInside(root, "images/a.png", "r"), join(root, "images", "a.png"));
  assert.equal(resolveInside(root, "images/../images/a.png", "r"), join(root, "images", "a.png"));
  const cases: [string, RegExp][] = [
    ["../x.png", /escapes the dataset root/],
    ["images/../../x.png", /escapes the dataset root/],
    ["/etc/passwd", /is absolute/],
    ["C:\\x.png", /is absolute/],
    ["", /is empty/],
    ["images/a\0.png", /NUL/],
  ];
  for (const [path, why] of cases) {
    assert.throws(
      () => resolveInside(root, path, "data.jsonl line 3: images[0]"),
      (e: Error) => {
        assert.ok(e instanceof PathEscapeError, path);
        assert.ok(e.message.startsWith(`data.jsonl line 3: images[0]: path ${JSON.stringify(path)}`), e.message);
        assert.match(e.message, why);
        return true;
      },
    );
  }
});

test("resolveInside follows symlinks: a link out of the root is refused, also before the file exists", () => {
  const root = tempDir("root");
  const outside = tempDir("outside");
  writeFileSync(join(outside, "secret.png"), "x");
  mkdirSync(join(root, "images"));
  symlinkSync(join(outside, "secret.png"), join(root, "images", "link.png"));
  assert.throws(() => resolveInside(root, "images/link.png", "rec a"), /rec a: .*resolves outside the dataset root/);
  // A symlinked folder: refused for a file that does not exist yet (a write would land outside).
  symlinkSync(outside, join(root, "evil"));
  assert.throws(() => resolveInside(root, "evil/new.png", "rec b"), /rec b: .*resolves outside/);
  // A dangling symlink cannot be checked: refused.
  symlinkSync(join(outside, "missing", "x.png"), join(root, "images", "dangling.png"));
  assert.throws(() => resolveInside(root, "images/dangling.png", "rec c"), /rec c: .*(does not resolve|outside)/);
  // A link that stays inside the root is fine, and so is a root that is itself a symlink.
  writeFileSync(join(root, "images", "real.png"), "x");
  symlinkSync(join(root, "images", "real.png"), join(root, "images", "alias.png"));
  assert.equal(resolveInside(root, "images/alias.png", "r"), join(root, "images", "alias.png"));
  const linkedRoot = join(outside, "root-link");
  symlinkSync(root, linkedRoot);
  assert.equal(resolveInside(linkedRoot, "images/real.png", "r"), join(linkedRoot, "images", "real.png"));
});

test("the store refuses to read through a path that escapes", async () => {
  const store = new ImageStore(tempDir("store"));
  assert.throws(() => store.read("../x.png", "rec z"), /rec z: path "\.\.\/x\.png" escapes/);
});
