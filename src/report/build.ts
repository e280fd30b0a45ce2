// `selfsynth report` and the runner's report.html: one self-contained page per run (or per set of
// runs of one recipe, seeds drawn as one band) holding the rounds against the base with their
// paired intervals and verdicts, charts of every metric across rounds, of training and of
// hallucination against coverage and length, example pairs per stage and example answers, and
// the manifest. Numbers are read from the run folders; the comparison is the one `selfsynth
// compare` computes (src/eval/comparison.ts), never recomputed here.
import type { Comparison } from "../eval/comparison.js";
import { worldVocabulary } from "../eval/world-benches.js";
import { writeFileAtomic } from "../util/atomic-file.js";
import {
  benchOrder,
  descriptionBenches,
  hallucinationTradeoff,
  metricsAcrossRounds,
  trainingCurves,
} from "./charts.js";
import { comparisonSection } from "./comparison-section.js";
import { evalExamples } from "./eval-examples.js";
import { benchExamplesMarkup, stageExamplesMarkup } from "./examples-section.js";
import { html, type Markup } from "./html.js";
import { manifestSection } from "./manifest-section.js";
import { ChartIds, type PageParts, renderPage } from "./page.js";
import { ReportInputError, type RunFolder, readRunFolder } from "./run-folder.js";
import { SceneTruth } from "./scene-truth.js";
import { stageExamples } from "./stage-examples.js";

export interface ReportOptions {
  /** Run folders of one recipe (seeds); examples come from the first. */
  runDirs: readonly string[];
  /**
   * The rounds against the baseline. Default for one run: its report.json's own comparison.
   * Several runs need the comparison across them (src/run/compare-runs.ts, compareRunDirs).
   */
  comparison?: Comparison;
  /** The world whose scene truth marks mentions (default: the first run's `world.dir`). */
  worldDir?: string;
}

/** The page as a string. */
export function buildReport(options: ReportOptions): string {
  if (options.runDirs.length === 0) throw new ReportInputError("report: no run folders given");
  const runs = options.runDirs.map(readRunFolder);
  if (runs.length > 1 && options.comparison === undefined) {
    throw new ReportInputError("report: several runs need their comparison across runs (compareRunDirs), none given");
  }
  const comparison = options.comparison ?? runs[0].comparison;
  const truth = new SceneTruth(options.worldDir ?? runs[0].config.world?.dir ?? null);
  const charts = new ChartIds();
  const baseline = comparison?.baseline ?? runs[0].rounds[0]?.name ?? "base";
  const sections: PageParts["sections"] = [
    { id: "comparison", title: `Rounds against '${baseline}'`, body: comparisonSection(comparison, runs.length) },
    { id: "metrics", title: "Metrics across rounds", body: metricCharts(runs, charts) },
    { id: "hallucination", title: "Hallucination, coverage and length", body: tradeoffCharts(runs, charts) },
    { id: "training", title: "Training", body: trainingCharts(runs, charts) },
    { id: "pairs", title: "What each stage trained on", body: stageSection(runs[0], truth) },
    { id: "answers", title: "Evaluation answers", body: answersSection(runs[0], baseline, truth) },
    { id: "manifest", title: "Manifest", body: manifestSection(runs) },
  ];
  const r = runs[0].config;
  return renderPage({
    title: `selfsynth report: ${r.name}${r.profile ? ` (${r.profile})` : ""}`,
    subtitle: subtitle(runs, truth),
    sections,
  });
}

/** Builds the page and writes it atomically to `path`. */
export function writeReport(path: string, options: ReportOptions): void {
  writeFileAtomic(path, buildReport(options));
}

function subtitle(runs: readonly RunFolder[], truth: SceneTruth): Markup {
  const world = truth.available
    ? html`Scene truth from <code>${truth.dir}</code>: object mentions are marked
<span class="legend"><mark class="present">present</mark> or <mark class="hallucinated">hallucinated</mark></span>.`
    : truth.dir === null
      ? html`No world (the run's images are the user's): mentions are <mark class="unknown">unmarked</mark>.`
      : html`No world at <code>${truth.dir}</code>: mentions are <mark class="unknown">unmarked</mark> (<code>--world DIR</code> names it).`;
  const dirs = runs.map((r) => html`<code>${r.dir}</code> `);
  return html`${runs.length === 1 ? "Run" : `${runs.length} runs`}: ${dirs}(seed${runs.length === 1 ? "" : "s"} ${runs
    .map((r) => r.config.seed)
    .join(", ")}, ${runs[0].config.eval?.split ?? "test"} split). ${world}`;
}

function metricCharts(runs: readonly RunFolder[], charts: ChartIds): Markup {
  const benches = benchOrder(runs);
  if (benches.length === 0) return html`<p>No round was evaluated.</p>`;
  const band = runs.length > 1 ? ` (line: mean of ${runs.length} runs; band: their range)` : "";
  return html`${benches.map((b) => charts.chart(metricsAcrossRounds(runs, b), `${b}${band}`))}`;
}

function tradeoffCharts(runs: readonly RunFolder[], charts: ChartIds): Markup {
  const benches = descriptionBenches(runs);
  if (benches.length === 0) return html`<p>No description bench (CHAIR) was evaluated.</p>`;
  return html`<p>CHAIR_i against coverage and against words per description, one point per round (and run), joined in
round order: a round that hallucinates less only by saying less moves down and to the left.</p>
${benches.map((b) => charts.chart(hallucinationTradeoff(runs, b), b))}`;
}

function trainingCharts(runs: readonly RunFolder[], charts: ChartIds): Markup {
  const stages = runs[0].stages.map((s) => s.name);
  const parts = stages.map((name) => {
    const series = runs.map((run, i) => ({
      run: runs.length === 1 ? "run" : `${run.dir} (${i + 1})`,
      records: run.stages.find((s) => s.name === name)?.training ?? [],
    }));
    const spec = trainingCurves(series);
    return spec === null
      ? html`<p>${name}: no training metrics.</p>`
      : charts.chart(spec, `${name}: train/metrics.jsonl`);
  });
  return parts.length === 0 ? html`<p>The recipe has no stages.</p>` : html`${parts}`;
}

function stageSection(run: RunFolder, truth: SceneTruth): Markup {
  const table = worldVocabulary().objects;
  const parts = run.stages.map((s) => stageExamples(s, truth, table)).filter((s) => s !== null);
  if (parts.length === 0) return html`<p>No stage wrote a dataset.</p>`;
  return html`<p>From <code>${run.dir}</code>. Preference pairs are drawn across outcomes: kept by the stage's filters
with the chosen side hallucinating less, kept with it hallucinating no less, and dropped.</p>${parts.map(stageExamplesMarkup)}`;
}

function answersSection(run: RunFolder, baseline: string, truth: SceneTruth): Markup {
  const last = run.rounds[run.rounds.length - 1];
  if (last === undefined) return html`<p>No round was evaluated.</p>`;
  const benches = evalExamples({
    runDir: run.dir,
    round: last.name,
    baseline,
    benches: Object.keys(last.metrics),
    truth,
    table: worldVocabulary().objects,
  });
  return html`<p>The last round's answers, right and wrong, items whose verdict changed from '${baseline}' first.</p>${benches.map(benchExamplesMarkup)}`;
}
