// The browser the report and viewer tests (and scripts/report-screenshot.ts) drive: Debian's `chromium`
// through playwright-core, which downloads no browser of its own. `bash scripts/setup.sh`
// installs it. When it is missing the tests fail and say so; they are skipped only
// when SELFSYNTH_SKIP_BROWSER_TESTS=1 says to, so that CI never passes without running them.
import { existsSync, mkdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";

/** Names Debian and Ubuntu give the browser's launcher, looked for on PATH in this order. */
const CHROMIUM_NAMES = ["chromium", "chromium-browser"];

/** CHROMIUM_PATH when set, else the first chromium on PATH; undefined when there is none. */
export function findChromium(): string | undefined {
  const explicit = process.env.CHROMIUM_PATH;
  if (explicit !== undefined && explicit !== "") return explicit;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    for (const name of CHROMIUM_NAMES) {
      const path = join(dir, name);
      if (dir !== "" && existsSync(path)) return path;
    }
  }
  return undefined;
}

export const SKIP_BROWSER_ENV = "SELFSYNTH_SKIP_BROWSER_TESTS";

/** Why the browser tests cannot run, or null when they can; throws when no skip was allowed. */
export function browserUnavailable(): string | null {
  if (findChromium() !== undefined) return null;
  const message =
    "no chromium found (CHROMIUM_PATH or chromium on PATH): install it with `bash scripts/setup.sh` (Debian's chromium)";
  if (process.env[SKIP_BROWSER_ENV] === "1") return `${message} (skipped: ${SKIP_BROWSER_ENV}=1)`;
  throw new Error(`${message}, or set ${SKIP_BROWSER_ENV}=1 to skip the browser tests`);
}

export function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  if (executablePath === undefined) throw new Error("no chromium found (CHROMIUM_PATH or chromium on PATH)");
  return chromium.launch({ executablePath });
}

export interface OpenedReport {
  page: Page;
  /** Console errors and uncaught page errors, in order. */
  errors: string[];
  /** URLs the page asked for beyond its own file (it must ask for none). */
  requests: string[];
}

/** Opens a report file, waiting until every chart has settled (body[data-charts=done]). */
export async function openReport(
  browser: Browser,
  file: string,
  viewport = { width: 1200, height: 900 },
): Promise<OpenedReport> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  const requests: string[] = [];
  const url = pathToFileURL(file).href;
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("request", (r) => {
    if (r.url() !== url && !r.url().startsWith("data:")) requests.push(r.url());
  });
  await page.goto(url);
  await page.waitForSelector("body[data-charts=done]", { timeout: 20_000 });
  return { page, errors, requests };
}

export interface OpenedPage {
  page: Page;
  /** Console errors and uncaught page errors, in order. */
  errors: string[];
}

/** Opens a page served over HTTP (the viewer), collecting its console and page errors. */
export async function openUrl(
  browser: Browser,
  url: string,
  viewport = { width: 1200, height: 900 },
): Promise<OpenedPage> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  return { page, errors };
}

/**
 * Runs `check`; when it fails, saves the page's screenshot as test-output/<folder>/<name>.png
 * and names it in the error. The page is closed either way.
 */
export async function checkWithScreenshot(
  page: Page,
  folder: string,
  name: string,
  check: () => Promise<void>,
): Promise<void> {
  try {
    await check();
  } catch (error) {
    const shots = join(fileURLToPath(new URL("../..", import.meta.url)), "test-output", folder);
    mkdirSync(shots, { recursive: true });
    const shot = join(shots, `${name}.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => undefined);
    const failure = error as Error;
    failure.message += `\n  screenshot: ${shot}`;
    failure.stack = `${failure.stack ?? ""}\n  screenshot: ${shot}`;
    throw failure;
  } finally {
    await page.close();
  }
}
