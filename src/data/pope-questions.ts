// POPE's question files as published (RUCAIBox/POPE, output/coco/coco_pope_{random,popular,
// adversarial}.json, and the same format for other datasets): JSON Lines despite the .json name,
// one question per line,
//
//   {"question_id": 1, "image": "COCO_val2014_000000310196.jpg", "text": "Is there a snowboard in the image?", "label": "yes"}
//
// `image` is a file name inside the image folder the user names; `label` is "yes" or "no". Other
// fields are ignored. A bad line is an error naming the file and the line.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { describeIssues } from "../util/zod-issues.js";

export class QuestionFileError extends Error {
  override name = "QuestionFileError";
}

export interface PopeQuestion {
  /** question_id as a string (POPE writes numbers; some derived files write strings). */
  questionId: string;
  /** File name of the image, relative to the image folder. */
  image: string;
  text: string;
  label: "yes" | "no";
  /** 1-based line of the file, for messages. */
  line: number;
}

const LineSchema = z.object({
  question_id: z.union([z.number().int(), z.string().min(1)]),
  image: z.string().min(1),
  text: z.string().min(1),
  // POPE writes lower case; "Yes"/"NO" from hand-edited files mean the same.
  label: z
    .string()
    .transform((s) => s.trim().toLowerCase())
    .pipe(z.enum(["yes", "no"])),
});

function parseLine(text: string, where: string): z.infer<typeof LineSchema> {
  const perLine = "POPE files hold one JSON object per line, not an array";
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const hint = text.trimStart().startsWith("[") ? ` (${perLine})` : "";
    throw new QuestionFileError(`${where}: not valid JSON${hint}: ${(error as Error).message}`);
  }
  if (Array.isArray(value)) throw new QuestionFileError(`${where}: a JSON array; ${perLine}`);
  const parsed = LineSchema.safeParse(value);
  if (!parsed.success) throw new QuestionFileError(`${where}: ${describeIssues(parsed.error.issues).join("; ")}`);
  return parsed.data;
}

/** Every question of a POPE file, in file order; duplicate question ids and empty files are refused. */
export function readPopeQuestions(path: string): PopeQuestion[] {
  let content: string;
  try {
    content = readFileSync(path, "utf8");
  } catch (error) {
    throw new QuestionFileError(`POPE question file ${path}: cannot read it (${(error as Error).message})`);
  }
  const questions: PopeQuestion[] = [];
  const firstLine = new Map<string, number>();
  content.split("\n").forEach((text, i) => {
    if (text.trim() === "") return;
    const line = i + 1;
    const q = parseLine(text, `${path}:${line}`);
    const questionId = String(q.question_id);
    const seen = firstLine.get(questionId);
    if (seen !== undefined)
      throw new QuestionFileError(`${path}:${line}: question_id ${questionId} already appears on line ${seen}`);
    firstLine.set(questionId, line);
    questions.push({ questionId, image: q.image, text: q.text, label: q.label, line });
  });
  if (questions.length === 0) throw new QuestionFileError(`POPE question file ${path} holds no questions`);
  return questions;
}
