// STS's concept lists: SceneWorld's per species, and a user's file (JSON or YAML, either layout)
// whose every problem names the file and what is wrong.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { loadConceptsFile, worldConceptLists } from "../../../src/methods/sts/concepts.js";

const dir = mkdtempSync(join(tmpdir(), "sts-concepts-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const classes = ["albatross", "tern"];

test("SceneWorld: each species' concepts as the world writes them", () => {
  const lists = worldConceptLists();
  assert.equal(lists.size, 14);
  assert.deepEqual(lists.get("arbel"), ["a round body", "a red body", "a short beak", "a fan tail"]);
});

test("a JSON or YAML file, in the plain or the released code's layout", () => {
  const json = file("c.json", JSON.stringify({ albatross: ["long wings", "hooked bill"], tern: ["forked tail"] }));
  assert.deepEqual(
    [...loadConceptsFile(json, classes)],
    [
      ["albatross", ["long wings", "hooked bill"]],
      ["tern", ["forked tail"]],
    ],
  );
  const yaml = file("c.yaml", "albatross:\n  - long wings\n  - long wings\ntern: [forked tail, ' black cap ']\n");
  assert.deepEqual(loadConceptsFile(yaml, classes).get("albatross"), ["long wings"], "duplicates dropped");
  assert.deepEqual(loadConceptsFile(yaml, classes).get("tern"), ["forked tail", "black cap"]);
  const released = file(
    "r.json",
    JSON.stringify({
      "0": { name: "albatross", visual_features: ["long wings"] },
      "1": { name: "tern", visual_features: ["forked tail"] },
    }),
  );
  assert.deepEqual(loadConceptsFile(released, classes).get("tern"), ["forked tail"]);
});

test("every problem names the file and what is wrong", () => {
  const cases: [string, string, RegExp][] = [
    ["bad.json", "{ albatross: [", /bad\.json: not valid JSON: /],
    ["bad.yaml", "albatross: [long wings\ntern: x: y", /bad\.yaml: not valid YAML: /],
    [
      "list.json",
      '["long wings"]',
      /list\.json: expected a mapping of class name to a list of visual features, got a list/,
    ],
    [
      "unknown.json",
      '{"albatross": ["a"], "tern": ["b"], "gull": ["c"]}',
      /unknown\.json: unknown class 'gull'; the classes are: albatross, tern/,
    ],
    [
      "empty.yaml",
      "albatross: []\ntern: [b]\n",
      /empty\.yaml: class 'albatross': the list of visual features is empty/,
    ],
    [
      "notlist.json",
      '{"albatross": "long wings", "tern": ["b"]}',
      /notlist\.json: class 'albatross': expected a list of visual features, got string/,
    ],
    [
      "blank.json",
      '{"albatross": ["a", " "], "tern": ["b"]}',
      /blank\.json: class 'albatross': feature 1 must be a non-empty string/,
    ],
    ["missing.json", '{"albatross": ["a"]}', /missing\.json: no visual features for class tern/],
    ["c.txt", "albatross: [a]", /c\.txt: unknown extension '\.txt'; use \.json, \.yaml or \.yml/],
  ];
  for (const [name, text, want] of cases) assert.throws(() => loadConceptsFile(file(name, text), classes), want, name);
  assert.throws(
    () => loadConceptsFile(join(dir, "absent.json"), classes),
    /absent\.json: cannot read the concepts file/,
  );
});

test("the user's labels: the file may list more classes; a label without features names the label and the source", () => {
  const cub = file(
    "cub.json",
    JSON.stringify({ albatross: ["long wings"], tern: ["forked tail"], gull: ["grey back"] }),
  );
  assert.throws(
    () => loadConceptsFile(cub, classes),
    /cub\.json: unknown class 'gull'/,
    "SceneWorld's species: refused",
  );
  const lists = loadConceptsFile(cub, classes, { others: "keep" });
  assert.deepEqual([...lists.keys()], ["albatross", "tern", "gull"]);
  assert.throws(
    () =>
      loadConceptsFile(cub, ["albatross", "Laysan Albatross"], {
        others: "keep",
        classesFrom: "labelled image folder /data/cub",
      }),
    /cub\.json: no visual features for class Laysan Albatross \(label of labelled image folder \/data\/cub\)/,
  );
});
