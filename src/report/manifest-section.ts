// The report's record of how each run was made: versions, seeds, the recipe's hash, the world's
// config hash, the input model, times (manifest.json, src/run/manifest.ts), each stage's and
// step's seconds (stage.json, steps/*.json), and the resolved recipe. The manifest's per-file
// hashes are counted, not listed: a stage's dataset holds thousands of images.
import { html, type Markup } from "./html.js";
import type { RunFolder } from "./run-folder.js";

type Loose = Record<string, unknown>;
const obj = (v: unknown): Loose => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Loose) : {});
const text = (v: unknown): string =>
  v === undefined || v === null ? "-" : typeof v === "string" ? v : JSON.stringify(v);
const fileCount = (v: unknown): number => Object.keys(obj(v)).length;

/** The manifest as label/value lines; a manifest-less run (never prepared) gives none. */
export function manifestLines(manifest: Loose | null): [string, string][] {
  if (manifest === null) return [];
  const recipe = obj(manifest.recipe);
  const world = obj(manifest.world);
  const model = obj(obj(manifest.inputs).model);
  const seeds = Object.entries(obj(manifest.stageSeeds)).map(([k, v]) => `${k} ${text(v)}`);
  const stages = Object.entries(obj(manifest.stages)).map(([name, s]) => {
    const stage = obj(s);
    return `${name}: ${text(stage.type)}, model ${text(stage.model)}, ${fileCount(stage.files)} files hashed`;
  });
  return [
    [
      "versions",
      `selfsynth ${text(manifest.selfsynth)}, libtorch ${text(manifest.libtorch)}, node ${text(manifest.node)}, ${text(manifest.platform)}`,
    ],
    ["recipe", `${text(recipe.path)} (sha256 ${text(recipe.sha256)})`],
    ["profile", text(manifest.profile)],
    ["seed", `${text(manifest.seed)}; stages: ${seeds.join(", ") || "-"}`],
    ["threads", text(manifest.threads)],
    ["world", `${text(world.config)} in ${text(world.dir)} (config sha256 ${text(world.configHash)})`],
    ["input model", `${text(model.dir)} (${fileCount(model.files)} files hashed)`],
    ["stage outputs", stages.join("; ") || "- (filled when the run finishes)"],
    ["started", text(manifest.startedAt)],
    ["finished", text(manifest.finishedAt)],
  ];
}

const seconds = (s: number | null) => (s === null ? "not finished" : `${s.toFixed(1)} s`);

function timings(run: RunFolder): Markup {
  const rows = run.stages.flatMap((stage) => [
    html`<tr class="stage"><td>${stage.name}</td><td>${stage.type}</td><td class="num">${seconds(stage.seconds)}</td></tr>`,
    ...stage.steps.map(
      (s) => html`<tr><td></td><td>step ${s.step}</td><td class="num">${seconds(s.seconds)}</td></tr>`,
    ),
  ]);
  return html`<table class="timings"><thead><tr><th>stage</th><th>step</th><th>time</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function manifestSection(runs: readonly RunFolder[]): Markup {
  const perRun = runs.map((run) => {
    const lines = manifestLines(run.manifest).map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`);
    return html`<div class="run-manifest"><h3><code>${run.dir}</code></h3>
${lines.length === 0 ? html`<p>No manifest.json.</p>` : html`<table class="manifest">${lines}</table>`}
${timings(run)}
<details><summary>config.resolved.json</summary><pre>${JSON.stringify(run.config, null, 2)}</pre></details></div>`;
  });
  return html`${perRun}`;
}
