// The report's examples as HTML: per stage, its record files, drops by reason and example records
// (image, chosen beside rejected, mentions marked); per bench, answers right and wrong. Every text
// from a record goes through html`` (escaped).
import type { BenchExamples, EvalExample } from "./eval-examples.js";
import { html, type Markup } from "./html.js";
import type { InlineImage } from "./inline-image.js";
import { type MarkedText, renderMarked } from "./mentions.js";
import type { PairExample, SftExample, StageExamples } from "./stage-examples.js";

function image(img: InlineImage | null, alt: string): Markup {
  if (img === null) return html``;
  if ("missing" in img) return html`<div class="no-image" title="${img.missing}">image not shown</div>`;
  return html`<img class="example-image" src="${img.uri}" alt="${alt}">`;
}

function side(label: string, text: MarkedText, truth: boolean): Markup {
  const count = truth
    ? html` <span class="count">${text.hallucinated} of ${text.mentions} mentions hallucinated</span>`
    : "";
  return html`<div class="side"><h5>${label}${count}</h5><p>${renderMarked(text)}</p></div>`;
}

function provenance(ex: PairExample | SftExample): Markup {
  const filters = ex.filters.map(
    (f) => html`<span class="tag ${f.kept ? "kept" : "dropped"}">${f.kept ? "kept in" : "not in"} ${f.name}</span>`,
  );
  const reasons = ex.reasons.map((r) => html`<span class="tag reason">${r}</span>`);
  const scores = Object.entries(ex.scores).map(
    ([k, v]) => html`<span class="tag score">${k} ${v.toPrecision(4)}</span>`,
  );
  const truth = ex.truth ? "" : html`<span class="tag">no scene truth: mentions unmarked</span>`;
  return html`<div class="tags">${filters}${reasons}${scores}${truth}</div>`;
}

function pairExample(ex: PairExample): Markup {
  return html`<div class="example pair" data-id="${ex.id}">
${image(ex.image, ex.id)}<div class="body"><h4>${ex.id}</h4><p class="prompt">${ex.prompt}</p>
<div class="sides">${side("chosen", ex.chosen, ex.truth)}${side("rejected", ex.rejected, ex.truth)}</div>${provenance(ex)}</div></div>`;
}

function sftExample(ex: SftExample): Markup {
  const turns = ex.turns.map(
    (t) => html`<div class="turn ${t.role}"><h5>${t.role}</h5><p>${renderMarked(t.text)}</p></div>`,
  );
  return html`<div class="example sft" data-id="${ex.id}">${image(ex.image, ex.id)}<div class="body"><h4>${ex.id}</h4>${turns}${provenance(ex)}</div></div>`;
}

function countsText(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? "none" : entries.map(([k, n]) => `${k} ${n}`).join(", ");
}

export function stageExamplesMarkup(s: StageExamples): Markup {
  const files =
    s.main === null ? "" : html`<li>records: <code>${s.main.name}</code> (${s.main.records} ${s.main.kind})</li>`;
  const filters = s.filters.map(
    (f) => html`<li>kept by a filter: <code>${f.name}</code> (${f.kept} of ${s.main?.records ?? "?"})</li>`,
  );
  const drops = s.drops.map((d) => html`<li>dropped (${d.source}): ${countsText(d.counts)}</li>`);
  const skipped = s.skipped.length === 0 ? "" : html`<li>not training records: ${s.skipped.join(", ")}</li>`;
  const examples = s.examples.map((ex) => (ex.kind === "preference" ? pairExample(ex) : sftExample(ex)));
  return html`<div class="stage-examples" data-stage="${s.stage}"><h3>${s.stage}</h3>
<ul class="files">${files}${filters}${drops}${skipped}</ul>${examples}</div>`;
}

function answer(label: string, a: EvalExample["answer"]): Markup {
  return html`<div class="side ${a.outcome}"><h5>${label}: ${a.outcome}</h5><p>${renderMarked(a.text)}</p></div>`;
}

function evalExample(ex: EvalExample, round: string, baseline: string): Markup {
  return html`<div class="example eval ${ex.answer.outcome}" data-id="${ex.itemId}">${image(ex.image, ex.itemId)}
<div class="body"><h4>${ex.itemId}</h4><p class="prompt">${ex.prompt}</p><p class="truth">truth: ${ex.truth}</p>
<div class="sides">${answer(round, ex.answer)}${ex.base === undefined ? "" : answer(baseline, ex.base)}</div></div></div>`;
}

export function benchExamplesMarkup(b: BenchExamples): Markup {
  const body =
    b.examples.length === 0
      ? html`<p>No per-item records with a right/wrong verdict.</p>`
      : b.examples.map((ex) => evalExample(ex, b.round, b.baseline));
  return html`<div class="bench-examples" data-bench="${b.bench}"><h3>${b.bench} (round ${b.round})</h3>${body}</div>`;
}
