// The generators' error diagnostics counted on hand-built scenes (expected values by hand).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { PreferenceRecord } from "../../../src/data/records.js";
import { worldVocabulary } from "../../../src/eval/world-benches.js";
import { bpoDiagnostics, diagnosticsLines, generatorOf } from "../../../src/methods/bpo/diagnostics.js";

const SHAPES = ["circle", "square", "triangle", "star", "heart", "cross", "diamond", "hexagon", "ring", "crescent"];
const PAIRS = [
  { anchor: "star", partner: "crescent" },
  { anchor: "heart", partner: "diamond" },
  { anchor: "triangle", partner: "hexagon" },
  { anchor: "cross", partner: "ring" },
];
const objects = new Map([
  ["s1", ["star", "circle"]], // an anchor (star) without its partner (crescent)
  ["s2", ["heart", "diamond", "square"]], // an anchor with its partner
]);

function pair(
  id: string,
  source: string,
  chosen: string,
  rejected: string,
  generator: string,
  style = "description",
): PreferenceRecord {
  return {
    kind: "preference",
    id,
    images: [],
    prompt: [{ role: "user", content: "Describe this image in detail." }],
    chosen,
    rejected,
    provenance: {
      method: "bpo",
      stage: "bpo",
      model: "fake",
      reasons: [`negative:${generator}:x`, "type:y", `positive:${style}`],
      source,
    },
  };
}

const records = [
  // s1: crescent (the partner of the present star) and hexagon (its anchor, triangle, is absent).
  pair(
    "s1/d/injection",
    "s1",
    "A red star and a white circle.",
    "A red star, a green crescent and a blue hexagon.",
    "injection",
  ),
  // s2: ring (its anchor, cross, is absent): not prior-driven.
  pair("s2/d/injection", "s2", "A heart, a diamond and a square.", "A heart, a diamond and a ring.", "injection"),
  pair("s1/d/weakening", "s1", "A red star and a white circle.", "A crescent.", "weakening"),
  // A creature: no scene truth, counted as a pair but not on scenes.
  pair("c1/d/weakening", "c1", "A creature.", "A star.", "weakening"),
  pair("s2/q0/weakening", "s2", "Yes.", "No.", "weakening", "qa"),
];

test("per generator: absent objects named, and how many are a present anchor's partner", () => {
  const d = bpoDiagnostics(records, { objects, shapes: SHAPES, pairs: PAIRS, table: worldVocabulary().objects });
  const inj = d.generators.injection;
  assert.ok(inj);
  // Injection: s1 names crescent (partner of star: prior) and hexagon (not); s2 names ring (not).
  assert.deepEqual(
    { pairs: inj.pairs, onScenes: inj.onScenes, hallucinated: inj.hallucinated, priorPartners: inj.priorPartners },
    { pairs: 2, onScenes: 2, hallucinated: 3, priorPartners: 1 },
  );
  assert.equal(inj.mentions, 6);
  assert.equal(inj.partnerShare, 1 / 3);
  assert.equal(inj.hallucinatedPerPair, 1.5);
  // Chance: s1 has 8 absent shapes of which 1 (crescent) is a present anchor's partner: 1/8 for
  // each of its 2 errors; s2's absent shapes hold no partner of its anchors (diamond is present):
  // 0 for its 1 error. (2/8 + 0) / 3 = 1/12.
  assert.ok(Math.abs(inj.chanceShare - 1 / 12) < 1e-12, `${inj.chanceShare}`);

  const weak = d.generators.weakening;
  assert.ok(weak);
  assert.deepEqual(
    { pairs: weak.pairs, onScenes: weak.onScenes, hallucinated: weak.hallucinated, priorPartners: weak.priorPartners },
    { pairs: 3, onScenes: 2, hallucinated: 1, priorPartners: 1 },
  );
  assert.equal(weak.partnerShare, 1);
  assert.equal(weak.chanceShare, 1 / 8);
  assert.deepEqual(Object.keys(weak.byStyle).sort(), ["description", "qa"]);
  assert.equal(weak.byStyle.qa.mentions, 0, "a yes/no answer names no object");
  assert.equal(weak.byStyle.description.hallucinated, 1);

  // The positives, each once (s1's is the chosen side of two pairs): ground truth, no errors.
  assert.deepEqual({ pairs: d.positives.pairs, hallucinated: d.positives.hallucinated }, { pairs: 4, hallucinated: 0 });
  const lines = diagnosticsLines(d);
  assert.equal(lines.length, 3);
  assert.match(
    lines[0],
    /^injection: 2 pairs on scenes, 3 absent objects named \(1\.50 per pair\), 1 prior partners of present objects: share 0\.333 \(chance 0\.083\)$/,
  );
});

test("a pair's generator is read from its provenance", () => {
  assert.equal(generatorOf(records[0]), "injection");
  assert.equal(generatorOf(records[2]), "weakening");
  assert.equal(
    generatorOf({ ...records[0], provenance: { ...records[0].provenance, reasons: ["negative:other:x"] } }),
    null,
  );
});
