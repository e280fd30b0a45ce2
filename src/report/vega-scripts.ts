// The plotting libraries the report inlines: Vega, Vega-Lite and vega-embed, their minified
// browser builds (UMD: each sets a global, `vega`, `vegaLite`, `vegaEmbed`, in this order of
// dependence). Inlined, not linked, so that the page opens from disk with no network.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** Package and the file of its browser build, in the order the page must load them. */
export const VEGA_BUNDLES = [
  { pkg: "vega", file: "build/vega.min.js" },
  { pkg: "vega-lite", file: "build/vega-lite.min.js" },
  { pkg: "vega-embed", file: "build/vega-embed.min.js" },
] as const;

/**
 * The installed package's folder. The packages' `exports` maps hide `build/*.min.js` from
 * `require.resolve`, so the folder is found from the main entry, walking up to the package.json
 * that names the package.
 */
function packageDir(pkg: string): string {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    throw new Error(`report: the npm package '${pkg}' is not installed (run npm install)`);
  }
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === pkg) {
      return dir;
    }
  }
  throw new Error(`report: no package.json naming '${pkg}' above ${entry}`);
}

let cached: string[] | undefined;

/** The three bundles' sources, read once per process. */
export function vegaSources(): string[] {
  cached ??= VEGA_BUNDLES.map(({ pkg, file }) => {
    const path = join(packageDir(pkg), file);
    if (!existsSync(path)) throw new Error(`report: ${path} is missing (is '${pkg}' installed whole?)`);
    return readFileSync(path, "utf8");
  });
  return cached;
}
