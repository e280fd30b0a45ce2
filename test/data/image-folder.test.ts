// Images named by benchmark files: checked by the decoder, bad ones reported with a reason code.
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { ImageFolder } from "../../src/data/image-folder.js";
import { cleanup, jpeg, png, tempDir } from "./fixtures.js";

after(cleanup);

test("PNG and JPEG come back as their bytes with the type the bytes are, read once", async () => {
  const root = tempDir("folder");
  const pngBytes = await png();
  const jpegBytes = await jpeg();
  writeFileSync(join(root, "a.png"), pngBytes);
  // A JPEG under a .png name: the type follows the bytes, not the name.
  mkdirSync(join(root, "val"));
  writeFileSync(join(root, "val", "b.png"), jpegBytes);
  const folder = new ImageFolder(root);
  const a = await folder.read("a.png");
  assert.ok(a.ok);
  assert.deepEqual(a.image, { bytes: pngBytes, mimeType: "image/png" });
  const b = await folder.read("val/b.png");
  assert.ok(b.ok && b.image.mimeType === "image/jpeg");
  assert.equal(await folder.read("a.png"), a, "cached");
});

test("missing, corrupt, non-image, too large and escaping files are reason codes naming the file", async () => {
  const root = tempDir("folder");
  const outside = tempDir("outside");
  const bytes = await png();
  writeFileSync(join(root, "cut.png"), bytes.slice(0, Math.floor(bytes.length / 2)));
  writeFileSync(join(root, "notes.png"), "not an image");
  writeFileSync(join(root, "big.png"), bytes); // 4 x 3 = 12 pixels
  writeFileSync(join(outside, "x.png"), bytes);
  symlinkSync(join(outside, "x.png"), join(root, "link.png"));
  const problem = async (name: string, maxPixels?: number) => {
    const r = await new ImageFolder(root, { maxPixels }).read(name);
    assert.ok(!r.ok, name);
    return [r.problem, r.message];
  };
  const [missing, missingMessage] = await problem("absent.png");
  assert.equal(missing, "missing");
  assert.ok(missingMessage.includes(join(root, "absent.png")), missingMessage);
  assert.equal((await problem("cut.png"))[0], "corrupt");
  assert.equal((await problem("notes.png"))[0], "not_an_image");
  const [big, bigMessage] = await problem("big.png", 11);
  assert.equal(big, "too_many_pixels");
  assert.match(bigMessage, /big\.png: 4x3 = 12 pixels, more than the limit of 11/);
  assert.equal((await problem("../outside/x.png"))[0], "outside_folder");
  assert.equal((await problem("link.png"))[0], "outside_folder");
  assert.throws(() => new ImageFolder(join(root, "nope")), /image folder .*nope does not exist/);
});
