import assert from "node:assert/strict";
import { test } from "node:test";
import { parseWorldConfig } from "../../src/world/config.js";
import {
  type CreatureImage,
  concept,
  creatureParts,
  renderCreature,
  SPECIES,
  sampleCreature,
  species,
} from "../../src/world/creatures.js";
import { Rng } from "../../src/world/rng.js";
import { creatureRecord } from "../../src/world/splits.js";

const config = parseWorldConfig({});

test("at least 12 species, each 4 to 6 concepts, only combinations tell them apart", () => {
  assert.ok(SPECIES.length >= 12);
  const keys = new Set<string>();
  const uses = new Map<string, number>();
  for (const s of SPECIES) {
    assert.ok(s.concepts.length >= 4 && s.concepts.length <= 6, s.name);
    const cats = s.concepts.map((id) => concept(id).category);
    assert.equal(new Set(cats).size, cats.length, `${s.name}: one concept per category`);
    keys.add([...s.concepts].sort().join("|"));
    for (const c of s.concepts) uses.set(c, (uses.get(c) ?? 0) + 1);
  }
  assert.equal(keys.size, SPECIES.length, "every species has its own combination");
  for (const [c, n] of uses) assert.ok(n >= 2, `${c} is shared by at least two species`);
  // No single concept identifies a species.
  for (const s of SPECIES) assert.ok(s.concepts.every((c) => (uses.get(c) ?? 0) >= 2));
});

test("visible and hidden concepts partition the species' concepts", () => {
  let hidden = 0;
  for (let i = 0; i < 200; i++) {
    const c = sampleCreature(config, Rng.from("creature", i));
    assert.deepEqual([...c.visibleConcepts, ...c.hiddenConcepts].sort(), [...species(c.species).concepts].sort());
    for (const id of c.hiddenConcepts) assert.equal(c.partVisibility[concept(id).part], 0);
    for (const id of c.visibleConcepts) assert.ok(c.partVisibility[concept(id).part]! >= 0.6);
    hidden += c.hiddenConcepts.length;
  }
  assert.ok(hidden > 100, `only ${hidden} hidden concepts in 200 images`);
});

/** The same placement drawn for the species without concept `id` (that part, or that head feature, not drawn). */
function withRemoved(c: CreatureImage, id: string): Uint8Array {
  const sp = species(c.species);
  const reduced = { name: sp.name, concepts: sp.concepts.filter((x) => x !== id) };
  return renderCreature(c, config, creatureParts(reduced)).rgb;
}

test("hidden concepts are really not drawn; visible ones are", () => {
  let checkedHidden = 0;
  let checkedVisible = 0;
  for (let i = 0; i < 200; i++) {
    const c = sampleCreature(config, Rng.from("creature-px", i));
    const image = renderCreature(c, config).rgb;
    for (const id of c.hiddenConcepts) {
      if (concept(id).part === "body") continue;
      // Removing a hidden part changes no pixel: it is covered or out of frame.
      assert.deepEqual(withRemoved(c, id), image, `${c.species}: ${id} leaks`);
      checkedHidden++;
    }
    for (const id of c.visibleConcepts) {
      if (concept(id).part === "body") continue;
      assert.notDeepEqual(withRemoved(c, id), image, `${c.species}: ${id} should show`);
      checkedVisible++;
    }
  }
  assert.ok(checkedHidden > 50 && checkedVisible > 200, `${checkedHidden} hidden, ${checkedVisible} visible checked`);
});

test("creatures are deterministic", () => {
  const a = sampleCreature(config, Rng.from("det", 1));
  const b = sampleCreature(config, Rng.from("det", 1));
  assert.deepEqual(a, b);
  assert.deepEqual(renderCreature(a, config).rgb, renderCreature(JSON.parse(JSON.stringify(b)), config).rgb);
});

test("a held-out species is never named in the training splits; the pool and evaluation splits name it", () => {
  const heldOut = config.creatures.heldOut;
  let seen = 0;
  for (let i = 0; i < 60; i++) {
    const train = creatureRecord(config, "instruction", i);
    const texts = [train.description ?? "", ...(train.questions ?? []).flatMap((q) => [q.question, q.answer])];
    assert.equal(train.heldOut, heldOut.includes(train.species));
    if (!train.heldOut) continue;
    seen++;
    assert.ok(
      texts.every((t) => !t.includes(train.species)),
      `${train.id}: ${texts.join(" | ")}`,
    );
    assert.match(train.description ?? "", /^This creature has /);
    assert.deepEqual(
      (train.questions ?? []).map((q) => q.task),
      ["concept"],
      "no question whose answer is the name",
    );
  }
  assert.ok(seen > 10, `only ${seen} held-out creatures in 60`);
  // The same draws in an evaluation split name the species, and ask for it.
  for (let i = 0; i < 30; i++) {
    const r = creatureRecord(config, "validation", i);
    if (!r.heldOut) continue;
    assert.match(r.description ?? "", new RegExp(`^This is an? ${r.species}\\.`));
    assert.ok((r.questions ?? []).some((q) => q.task === "classify" && q.answer === r.species));
  }
});
