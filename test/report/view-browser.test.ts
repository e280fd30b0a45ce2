// `selfsynth view`'s page in headless Chromium (test/report/browser.ts) over the test data folder
// (view-fixtures.ts): no console errors; drops shown and filtered by reason; the first page of
// pairs with both sides and every image loaded; the next page with the malformed lines as error
// rows naming their lines; a reason filter and a score range narrowing the rows to the matching
// ones, kept across a reload; and a traversal request refused with 403. A failed check keeps
// its screenshot under test-output/view/.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { startViewServer, type ViewServer } from "../../src/report/view/server.js";
import { cleanup } from "../data/fixtures.js";
import { browserUnavailable, checkWithScreenshot, launchChromium, openUrl } from "./browser.js";
import {
  BAD_DROP_LINE,
  BAD_RECORD_LINE,
  DROP_REASONS,
  NOT_JSON_LINE,
  PAIR_LINES,
  type ViewFixture,
  viewFixture,
} from "./view-fixtures.js";

const skip = browserUnavailable() ?? undefined;

let fixture: ViewFixture;
let server: ViewServer;
let browser: Browser | undefined;
before(async () => {
  fixture = await viewFixture();
  server = await startViewServer({ data: fixture.data, port: 0 });
  if (skip === undefined) browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await server?.close();
  cleanup();
});

/** Waits until the page has drawn its n-th page of rows. */
async function rendered(page: Page, n: number): Promise<void> {
  await page.waitForSelector(`body[data-state=ready][data-renders="${n}"]`);
}

interface ShownRow {
  type: string;
  line: number;
  text: string;
  reasons: string[];
}

// (Callbacks run in the page: no named inner functions, which tsx would wrap in its __name helper.)
const shownRows = (page: Page): Promise<ShownRow[]> =>
  page.$$eval("#rows article", (articles) =>
    articles.map((a) => ({
      type: (a as HTMLElement).dataset.type ?? "",
      line: Number((a as HTMLElement).dataset.line),
      text: a.textContent ?? "",
      reasons: Array.from(a.querySelectorAll(".tag.reason")).map((t) => t.textContent ?? ""),
    })),
  );

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test("the viewer in Chromium: records, both sides, images, paging, error rows, filters, drops; traversal refused", {
  skip,
}, async () => {
  assert.ok(browser !== undefined);
  const { page, errors } = await openUrl(browser, server.url);
  await checkWithScreenshot(page, "view", "viewer", async () => {
    // The first file by name is drops.jsonl: reason-coded drops, its malformed line an error row.
    await rendered(page, 1);
    const drops = await shownRows(page);
    assert.deepEqual(
      drops.map((r) => [r.type, r.line]),
      [...DROP_REASONS.map((_, i) => ["drop", i + 1]), ["error", BAD_DROP_LINE]],
    );
    await page.selectOption("select[name=reason]", "identical");
    await page.click("form#filters button[type=submit]");
    await rendered(page, 2);
    const identical = await shownRows(page);
    assert.deepEqual(
      identical.map((r) => [r.type, r.reasons]),
      [
        ["drop", ["identical"]],
        ["drop", ["identical"]],
      ],
    );

    // pairs.jsonl: the first 20 rows, each with its image and both sides.
    await page.click('nav#files button[data-file="pairs.jsonl"]');
    await rendered(page, 3);
    const first = await shownRows(page);
    assert.deepEqual(
      first.map((r) => r.line),
      range(1, 20),
    );
    assert.ok(first.every((r) => r.type === "preference"));
    const sides = await page.$$eval("#rows article:first-child .side p", (ps) => ps.map((p) => p.textContent));
    assert.deepEqual(sides, [fixture.pairs[0].chosen, fixture.pairs[0].rejected]);
    assert.match((await page.textContent("#range")) ?? "", new RegExp(`rows 1-20 of ${PAIR_LINES}`));
    await page.waitForFunction(() => Array.from(document.images).every((img) => img.complete));
    const images = await page.$$eval("#rows img", (imgs) =>
      imgs.map((img) => ({ src: img.getAttribute("src"), width: (img as HTMLImageElement).naturalWidth })),
    );
    assert.equal(images.length, 20);
    for (const img of images) assert.ok(img.width > 0, `${img.src} did not load`);

    // The next page: other rows, the malformed lines among them as error rows with their lines.
    await page.click("#next");
    await rendered(page, 4);
    const second = await shownRows(page);
    assert.deepEqual(
      second.map((r) => r.line),
      range(21, PAIR_LINES),
    );
    const errorRows = second.filter((r) => r.type === "error");
    assert.deepEqual(
      errorRows.map((r) => r.line),
      [NOT_JSON_LINE, BAD_RECORD_LINE],
    );
    assert.match(errorRows[0].text, new RegExp(`pairs\\.jsonl line ${NOT_JSON_LINE} · error.*not JSON`));
    assert.match(
      errorRows[1].text,
      new RegExp(`pairs\\.jsonl line ${BAD_RECORD_LINE} · error.*invalid record: chosen`),
    );
    assert.ok(await page.isDisabled("#next"));

    // A reason filter (a prefix of codes, as the select offers it) narrows to the matching pairs.
    await page.selectOption("select[name=reason]", "rejected:hallucination-prompt");
    await page.click("form#filters button[type=submit]");
    await rendered(page, 5);
    const filtered = await shownRows(page);
    const expected = fixture.pairs.map((p, i) => ({ p, line: i < 25 ? i + 1 : PAIR_LINES }));
    assert.deepEqual(
      filtered.map((r) => r.line),
      expected.filter(({ p }) => p.provenance.reasons?.[0] === "rejected:hallucination-prompt:3").map((e) => e.line),
    );
    for (const r of filtered) assert.deepEqual(r.reasons, ["rejected:hallucination-prompt:3"]);

    // A score range as well; the URL keeps the view, so a reload shows the same rows.
    await page.selectOption("select[name=score]", "chosen");
    await page.fill("input[name=minScore]", "0.5");
    await page.fill("input[name=maxScore]", "1.5");
    await page.click("form#filters button[type=submit]");
    await rendered(page, 6);
    assert.deepEqual(
      (await shownRows(page)).map((r) => r.line),
      [6, 9, 12, 15],
    );
    await page.reload();
    await rendered(page, 1);
    assert.deepEqual(
      (await shownRows(page)).map((r) => r.line),
      [6, 9, 12, 15],
    );
    assert.equal(await page.inputValue("select[name=reason]"), "rejected:hallucination-prompt");

    assert.deepEqual(errors, [], "console errors");

    // Outside the page: a traversal is refused, whatever route it takes.
    const refused = await page.request.get(`${server.url}files/..%2F..%2Fetc%2Fpasswd`);
    assert.equal(refused.status(), 403);
    assert.match(await refused.text(), /refused: .*"\.\." would leave the data folder/);
  });
});
