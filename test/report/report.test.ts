// The report page of a quick run, opened in headless Chromium (test/report/browser.ts): the tiny
// STIC run of the stage tests (a tiny world, a random-weights VLM, two training steps per stage)
// ends with report.html written by the runner; in the browser it logs no error, asks for nothing
// beyond its own file, every chart draws data, every example image loads, and every interval the
// table shows is report.json's. `selfsynth report` writes the same page; bad run folders are
// refused naming them. A failed browser check keeps its screenshot under test-output/ (gitignored).
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Command } from "commander";
import type { Browser, Page } from "playwright-core";
import { registerReport } from "../../src/cli/commands/report.js";
import { setNumThreads } from "../../src/engine/index.js";
import type { Comparison } from "../../src/eval/comparison.js";
import { registerBuiltinMethods } from "../../src/methods/index.js";
import { buildReport } from "../../src/report/build.js";
import { runRecipe } from "../../src/run/runner.js";
import { quietDeps, tinyWorldStage, writeSticRecipe } from "../methods/stic/stage-fixtures.js";
import { browserUnavailable, checkWithScreenshot, launchChromium, openReport } from "./browser.js";

setNumThreads(1);
registerBuiltinMethods();

const { dir, world, worldDir, base } = tinyWorldStage("report-");
const run = join(dir, "run");
const skip = browserUnavailable() ?? undefined;

let browser: Browser | undefined;
before(async () => {
  const recipe = writeSticRecipe(join(dir, "stic.yaml"), {
    world,
    worldDir,
    model: base,
    benches: ["pope-random", "chair"],
  });
  await runRecipe({ recipePath: recipe, out: run, deps: quietDeps() });
  if (skip === undefined) browser = await launchChromium();
});
after(() => browser?.close());

/** Runs `check` on the opened page; on failure saves a screenshot and names it in the error. */
async function onPage(
  name: string,
  file: string,
  check: (page: Page, errors: string[], requests: string[]) => Promise<void>,
) {
  assert.ok(browser !== undefined);
  const { page, errors, requests } = await openReport(browser, file);
  await checkWithScreenshot(page, "report", name, () => check(page, errors, requests));
}

test("the runner writes report.html beside report.json", () => {
  assert.ok(existsSync(join(run, "report.json")));
  const page = readFileSync(join(run, "report.html"), "utf8");
  assert.match(page, /<title>selfsynth report: stic-test<\/title>/);
  assert.doesNotMatch(page, /<script[^>]+src=|<link[^>]+href=/, "nothing linked: everything inline");
});

test("the report opens in Chromium with no errors, every chart drawn, every image loaded, report.json's intervals", {
  skip,
}, async () => {
  const report = JSON.parse(readFileSync(join(run, "report.json"), "utf8")) as { comparison: Comparison };
  await onPage("quick-run", join(run, "report.html"), async (page, errors, requests) => {
    assert.deepEqual(errors, [], "console errors");
    assert.deepEqual(requests, [], "requests beyond the page");

    // Every chart rendered an SVG with marks drawn from data (Vega names them role-mark).
    const charts = await page.$$eval(".chart", (els) =>
      els.map((el) => ({
        id: el.id,
        rendered: el.getAttribute("data-rendered"),
        marks: el.querySelectorAll("svg .role-mark path, svg .role-mark line, svg .role-mark rect").length,
      })),
    );
    // Metrics of both benches, the CHAIR trade-off, the training curves of both stages.
    assert.ok(charts.length >= 5, `${charts.length} charts`);
    for (const c of charts) {
      assert.equal(c.rendered, "true", `${c.id} rendered`);
      assert.ok(c.marks > 0, `${c.id} drew no marks`);
    }

    // Every example image decoded (a data: URI that loaded has a natural width).
    const images = await page.$$eval("img", (els) =>
      els.map((img) => ({ alt: img.alt, ok: img.complete && img.naturalWidth > 0 })),
    );
    assert.ok(images.length > 0, "the page shows example images");
    for (const img of images) assert.ok(img.ok, `image ${img.alt} did not load`);
    assert.ok((await page.$$("mark.present, mark.hallucinated")).length > 0, "mentions marked against scene truth");

    // The table's rows carry their exact numbers; they are report.json's comparison, row for row.
    // (Callbacks run in the page: no named inner functions, which tsx would wrap in its __name helper.)
    const shownRows: Record<string, string | undefined>[] = await page.$$eval("table.comparison tbody tr", (trs) =>
      trs.map((tr) => ({
        ...((tr as HTMLElement).dataset as Record<string, string | undefined>),
        shown: tr.querySelector(".interval")?.textContent ?? "",
      })),
    );
    const num = (s: string | undefined) => (s === undefined || s === "" ? null : Number(s));
    const rows = shownRows.map((d) => {
      const low = num(d.ciLow);
      const high = num(d.ciHigh);
      return {
        round: d.round,
        bench: d.bench,
        metric: d.metric,
        mean: num(d.mean),
        diff: num(d.diff),
        ci: low === null || high === null ? null : [low, high],
        verdict: d.verdict,
        shown: d.shown ?? "",
      };
    });
    const expected = report.comparison.rows.map((r) => ({
      round: r.round,
      bench: r.bench,
      metric: r.metric,
      mean: r.mean,
      diff: r.diff,
      ci: r.ci,
      verdict: r.verdict,
    }));
    assert.deepEqual(
      rows.map(({ shown: _, ...r }) => r),
      expected,
    );
    const signed = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(4)}`;
    for (const [i, r] of rows.entries()) {
      const ci = expected[i].ci;
      assert.equal(r.shown, ci === null ? "" : `[${signed(ci[0])}, ${signed(ci[1])}]`);
    }
  });
});

test("selfsynth report RUN --out FILE writes the page; its comparison is the run's", () => {
  const out = join(dir, "cli-report.html");
  const printed: string[] = [];
  const program = new Command().exitOverride();
  registerReport(program, (line) => printed.push(line));
  return program.parseAsync(["node", "selfsynth", "report", run, "--out", out]).then(() => {
    assert.deepEqual(printed, [out]);
    const page = readFileSync(out, "utf8");
    assert.equal(page, readFileSync(join(run, "report.html"), "utf8"));
  });
});

test("a folder without report.json, or with a malformed one, is refused naming the file", () => {
  const empty = join(dir, "not-a-run");
  mkdirSync(empty, { recursive: true });
  assert.throws(() => buildReport({ runDirs: [empty] }), new RegExp(`${empty}: no ${join(empty, "report.json")}`));
  const bad = join(dir, "bad-run");
  mkdirSync(bad, { recursive: true });
  writeFileSync(join(bad, "report.json"), "{ not json");
  writeFileSync(join(bad, "config.resolved.json"), readFileSync(join(run, "config.resolved.json")));
  assert.throws(
    () => buildReport({ runDirs: [bad] }),
    new RegExp(`${join(bad, "report.json")}: cannot read a run report`),
  );
});

test("a missing example image is named on the page, not a broken image", () => {
  const copy = join(dir, "run-missing-image");
  rmSync(copy, { recursive: true, force: true });
  // The stage's image store lives beside its records; remove it from a copy of the run.
  cpSync(run, copy, { recursive: true });
  rmSync(join(copy, "stages", "stic-stage1", "data", "images"), { recursive: true, force: true });
  const page = buildReport({ runDirs: [copy] });
  assert.match(page, /class="no-image" title="[^"]*stic-stage1[^"]*images/);
});
