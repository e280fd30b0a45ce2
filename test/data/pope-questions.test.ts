// POPE question files as published: JSON Lines of question_id, image, text, label.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { readPopeQuestions } from "../../src/data/pope-questions.js";
import { cleanup, tempDir } from "./fixtures.js";

after(cleanup);

function file(lines: string[]): string {
  const path = join(tempDir("pope"), "coco_pope_random.json");
  writeFileSync(path, lines.join("\n"));
  return path;
}

test("reads each line, ids as text, labels normalized, extra fields ignored", () => {
  const path = file([
    '{"question_id": 1, "image": "COCO_val2014_000000310196.jpg", "text": "Is there a snowboard in the image?", "label": "yes"}',
    "",
    '{"question_id": "2", "image": "a.png", "text": "Is there a fork in the image?", "label": "No", "extra": 3}',
  ]);
  assert.deepEqual(readPopeQuestions(path), [
    {
      questionId: "1",
      image: "COCO_val2014_000000310196.jpg",
      text: "Is there a snowboard in the image?",
      label: "yes",
      line: 1,
    },
    { questionId: "2", image: "a.png", text: "Is there a fork in the image?", label: "no", line: 3 },
  ]);
});

test("a bad line is refused with the file, the line and the field", () => {
  const good = '{"question_id": 1, "image": "a.png", "text": "Is there a cat in the image?", "label": "yes"}';
  assert.throws(
    () =>
      readPopeQuestions(file([good, '{"question_id": 2, "image": "a.png", "text": "Is there?", "label": "maybe"}'])),
    /coco_pope_random\.json:2: label: /,
  );
  assert.throws(() => readPopeQuestions(file([good, "{not json"])), /coco_pope_random\.json:2: not valid JSON/);
  assert.throws(() => readPopeQuestions(file([`[${good}]`])), /one JSON object per line, not an array/);
  assert.throws(
    () => readPopeQuestions(file([good, good])),
    /coco_pope_random\.json:2: question_id 1 already appears on line 1/,
  );
  assert.throws(() => readPopeQuestions(file(["", ""])), /holds no questions/);
  assert.throws(() => readPopeQuestions(join(tempDir("pope"), "absent.json")), /absent\.json: cannot read it/);
});
