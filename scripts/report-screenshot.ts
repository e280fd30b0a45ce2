// A PNG of a report page as headless Chromium draws it (README's docs/report.png):
//
//   npx selfsynth report runs/stic-validation-seed0 --out /tmp/report.html
//   node --import tsx scripts/report-screenshot.ts /tmp/report.html docs/report.png [--width 1200] [--height 1500] [--from SECTION]
//
// The viewport at the size given, from the top of the page or from the section `--from` names
// (its id: comparison, metrics, hallucination, training, pairs, answers, manifest); the browser is the one the report tests use (test/report/browser.ts).
import { parseArgs } from "node:util";
import { launchChromium, openReport } from "../test/report/browser.js";

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      width: { type: "string", default: "1200" },
      height: { type: "string", default: "1500" },
      from: { type: "string" },
    },
  });
  const [html, png] = positionals;
  const width = Number(values.width);
  const height = Number(values.height);
  if (html === undefined || png === undefined || !(width > 0) || !(height > 0)) {
    throw new Error(
      "usage: report-screenshot.ts REPORT.html OUT.png [--width N] [--height N] [--from SECTION] (N > 0)",
    );
  }
  const browser = await launchChromium();
  try {
    const { page, errors } = await openReport(browser, html, { width, height });
    if (errors.length > 0) throw new Error(`${html}: the page logged errors: ${errors.join("; ")}`);
    if (values.from !== undefined) {
      const section = page.locator(`section#${values.from}`);
      if ((await section.count()) === 0) throw new Error(`${html}: no section '${values.from}'`);
      await section.evaluate((el) => el.scrollIntoView());
    }
    await page.screenshot({ path: png, fullPage: false });
    console.log(`${png}: ${width}x${height} of ${html}`);
  } finally {
    await browser.close();
  }
}

main().catch((error: unknown) => {
  console.error(`report-screenshot: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
