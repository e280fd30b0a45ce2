// CHAIR's COCO word matching on hand-made sentences: the expected mentions are read off the
// synonym list (src/eval/coco-synonyms.ts) and chair.py's rules by hand, word by word.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type ChairParsed, type ChairTruth, type ChairVerdict, chairBench } from "../../src/eval/chair.js";
import { CocoObjectMatcher, cocoSynonymGroups } from "../../src/eval/coco-objects.js";
import type { EvalRecord } from "../../src/eval/types.js";
import { evalRecord } from "./eval-record.js";

const matcher = new CocoObjectMatcher();
const mentions = (text: string) => matcher.findMentions(text).map((m) => m.canonical);

test("the list holds COCO's 80 categories, each line led by its category name", () => {
  assert.equal(matcher.categories.length, 80);
  assert.equal(cocoSynonymGroups().length, 80);
  // First, last and the two-word names as COCO's instances files spell them.
  assert.equal(matcher.categories[0], "person");
  assert.equal(matcher.categories[79], "toothbrush");
  for (const name of ["dining table", "potted plant", "hair drier", "sports ball", "cell phone", "tv", "skis"])
    assert.equal(matcher.canonical(name), name);
  assert.equal(matcher.canonical("sofa"), "couch");
  assert.equal(matcher.canonical("home plate"), null, "a phrase that names nothing is no category");
  assert.equal(matcher.canonical("spaceship"), null);
});

test("synonyms map to their category", () => {
  // man, woman -> person; puppy -> dog; motorbike and "motor bike" -> motorcycle; sofa -> couch.
  assert.deepEqual(mentions("A man and a woman walk a puppy."), ["person", "person", "dog"]);
  assert.deepEqual(mentions("A motorbike, a motor bike and a sofa."), ["motorcycle", "motorcycle", "couch"]);
  // "orange" is a fruit in COCO's list, colour or not (chair.py counts it too).
  assert.deepEqual(mentions("An orange cat."), ["orange", "cat"]);
});

test("plurals are singularized, irregular ones included", () => {
  // bikes -> bike (bicycle); knives -> knife; calves -> calf (cow); women -> woman (person);
  // policemen -> policeman (person); buses -> bus; wine glasses -> wine glass.
  assert.deepEqual(mentions("Bikes, knives and calves."), ["bicycle", "knife", "cow"]);
  assert.deepEqual(mentions("Two women, three policemen, buses and wine glasses."), [
    "person",
    "person",
    "bus",
    "wine glass",
  ]);
});

test("two-word phrases win over their words", () => {
  // "hot dog" is not a dog, "teddy bear" not a bear, "fire hydrant" one object, "bow tie" a tie.
  assert.deepEqual(mentions("A hot dog, two teddy bears and a fire hydrant."), [
    "hot dog",
    "teddy bear",
    "fire hydrant",
  ]);
  assert.deepEqual(mentions("He wears a bow tie."), ["tie"]);
  assert.deepEqual(mentions("A traffic light and a stop sign."), ["traffic light", "stop sign"]);
});

test("chair.py's qualifiers: baby/adult animals and passenger vehicles are not people", () => {
  // "baby" and "passenger" alone are person synonyms; before an animal or a vehicle they are not.
  assert.deepEqual(mentions("A baby elephant and a passenger train."), ["elephant", "train"]);
  assert.deepEqual(mentions("A passenger jet and a passenger."), ["airplane", "person"]);
  assert.deepEqual(mentions("A baby in a crib."), ["person"]);
  // "baby animal", "train tracks" and "home plate" name no category: nothing is mentioned.
  assert.deepEqual(mentions("A baby animal by the train tracks at home plate."), []);
});

test("a toilet's seat is not a chair", () => {
  assert.deepEqual(mentions("The toilet seat is up."), ["toilet"]);
  // With a toilet anywhere in the description, every "seat" is dropped (chair.py's rule).
  assert.deepEqual(mentions("A toilet next to a seat and two chairs."), ["toilet", "chair"]);
  assert.deepEqual(mentions("A seat by the window."), ["chair"]);
});

test("CHAIR over COCO: hand-computed metrics of two descriptions", () => {
  const bench = chairBench(matcher);
  const record = (id: string, objects: string[], raw: string): EvalRecord<ChairParsed, ChairTruth, ChairVerdict> => {
    const truth = bench.groundTruth({
      id,
      imageId: id,
      image: { bytes: new Uint8Array(), mimeType: "image/png" },
      objects,
    });
    return evalRecord(bench, id, raw, truth);
  };
  // A: truth person, dog. "A man walks two puppies past a fire hydrant and a cat." -> man
  // (person), puppies (dog), fire hydrant, cat: 2 hallucinated (fire hydrant, cat) of 4; 12 words.
  // B: truth hot dog. "A hot dog on a plate." -> hot dog: 0 of 1; 6 words.
  const records = [
    record("A", ["person", "dog"], "A man walks two puppies past a fire hydrant and a cat."),
    record("B", ["hot dog"], "A hot dog on a plate."),
  ];
  assert.deepEqual(records[0].verdict, { hallucinated: ["fire hydrant", "cat"], covered: ["person", "dog"] });
  const m = bench.metrics(records) as Record<string, number>;
  assert.equal(m.chair_i, 2 / 5); // 2 hallucinated of 5 mentions (4 + 1)
  assert.equal(m.chair_s, 1 / 2); // A hallucinates, B does not
  assert.equal(m.coverage, 3 / 3); // person, dog, hot dog all named
  assert.equal(m.mean_length, (12 + 6) / 2);
  assert.equal(m.halluc_per_100w, (100 * 2) / 18);
});
