import assert from "node:assert/strict";
import { test } from "node:test";
import { parseWorldConfig } from "../../src/world/config.js";
import { CorpusError, corpusTexts } from "../../src/world/corpus.js";
import { SPECIES_NAMES } from "../../src/world/creatures.js";

// Canonical words only (no synonyms), so that a text names "star" exactly when its scene has one.
const config = parseWorldConfig({ language: { synonymRate: 0 } });
const pairs = config.priors.pairs;

/** Among scene texts naming an anchor, the share that also name its partner. */
function partnerShare(texts: string[]): number {
  let anchors = 0;
  let partners = 0;
  for (const text of texts) {
    const words = new Set(text.toLowerCase().match(/[a-z]+/g));
    for (const p of pairs) {
      if (!words.has(p.anchor)) continue;
      anchors++;
      if (words.has(p.partner)) partners++;
    }
  }
  return partners / anchors;
}

test("the corpus is deterministic, a caption and a description per scene and creature", () => {
  const a = corpusTexts(config, { scenes: 30, creatures: 5, partnerRate: 0.9 });
  assert.equal(a.length, 2 * 30 + 2 * 5);
  assert.deepEqual(corpusTexts(config, { scenes: 30, creatures: 5, partnerRate: 0.9 }), a);
  assert.notDeepEqual(corpusTexts(config, { scenes: 30, creatures: 5, partnerRate: 0.9, seed: 1 }), a);
  assert.match(a.at(-2) ?? "", /^A creature with /, "creature texts come last");
});

test("partnerRate sets how often the corpus names the partner with its anchor", () => {
  const always = partnerShare(corpusTexts(config, { scenes: 400, creatures: 0, partnerRate: 1 }));
  const never = partnerShare(corpusTexts(config, { scenes: 400, creatures: 0, partnerRate: 0 }));
  // Below 1 only where the scene is full: six objects leave no room for a partner (scene.ts).
  assert.ok(always > 0.95, `partner share at rate 1: ${always}`);
  // At rate 0 the partner comes only as any other shape does (pAlone): far below 1.
  assert.ok(never < 0.3, `partner share at rate 0: ${never}`);
});

test("bad corpus options are refused by name", () => {
  assert.throws(() => corpusTexts(config, { scenes: 10, creatures: 0, partnerRate: 1.5 }), CorpusError);
  assert.throws(() => corpusTexts(config, { scenes: -1, creatures: 0, partnerRate: 0.5 }), /corpus scenes/);
  assert.throws(() => corpusTexts(config, { scenes: 1, creatures: 0.5, partnerRate: 0.5 }), /corpus creatures/);
});

test("held-out species are described in the corpus but never named; the others are named", () => {
  const texts = corpusTexts(config, { scenes: 0, creatures: 200, partnerRate: 0.9 });
  const named = new Set(texts.flatMap((t) => SPECIES_NAMES.filter((n) => new RegExp(`\\b${n}\\b`).test(t))));
  assert.ok(config.creatures.heldOut.length > 0);
  for (const name of config.creatures.heldOut) assert.ok(!named.has(name), `${name} is named`);
  for (const name of SPECIES_NAMES.filter((n) => !config.creatures.heldOut.includes(n)))
    assert.ok(named.has(name), `${name} is never named`);
  assert.ok(
    texts.some((t) => t.startsWith("This creature has ")),
    "held-out creatures are described",
  );
});
