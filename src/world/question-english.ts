// A question program (questions.ts) printed as English, choosing among several phrasings and
// synonyms for object words, so that one program reads differently from question to question.
import type { Program, Ref, SpatialRelation } from "./questions.js";
import type { Rng } from "./rng.js";
import {
  CELL_PHRASES,
  COLUMN_NAMES,
  type Direction,
  plural,
  ROW_NAMES,
  type SceneType,
  type Shape,
  SYNONYMS,
} from "./vocabulary.js";

export interface Words {
  rng: Rng;
  synonymRate: number;
}

function noun(shape: Shape, w: Words): string {
  return w.rng.bernoulli(w.synonymRate) ? w.rng.pick(SYNONYMS[shape]) : shape;
}

const REL_PHRASE: Record<SpatialRelation, string> = {
  left_of: "to the left of",
  right_of: "to the right of",
  above: "above",
  below: "below",
};

type Det = "the" | "a" | "plural";

function article(phrase: string): string {
  return /^[aeiou]/.test(phrase) ? `an ${phrase}` : `a ${phrase}`;
}

/** A noun phrase for a referring expression. */
export function nounPhrase(ref: Ref, det: Det, w: Words): string {
  const many = det === "plural";
  const pre: string[] = [];
  const post: string[] = [];
  let head = ref.target === "word" ? "word" : "object";
  let quoted = "";
  for (const a of ref.atoms) {
    switch (a.kind) {
      case "color":
        pre.push(a.color);
        break;
      case "noun":
        head = noun(a.shape, w);
        break;
      case "shaped":
        pre.push(`${a.shape}-shaped`);
        break;
      case "cell":
        post.push(CELL_PHRASES[a.cell]);
        break;
      case "row":
        post.push(`in the ${ROW_NAMES[a.row]} row`);
        break;
      case "column":
        post.push(`in the ${COLUMN_NAMES[a.column]} column`);
        break;
      case "moving":
        post.push(a.direction === null ? `that ${many ? "are" : "is"} moving` : movingPhrase(a.direction));
        break;
      case "still":
        post.push(`that ${many ? "are" : "is"} not moving`);
        break;
      case "touching":
        post.push(a.ref ? `touching ${nounPhrase(a.ref, "the", w)}` : "touching another object");
        break;
      case "relation":
        post.push(`${REL_PHRASE[a.relation]} ${nounPhrase(a.ref, "the", w)}`);
        break;
      case "text":
        quoted = a.text;
        break;
    }
  }
  let core = [...pre, many ? plural(head) : head].join(" ");
  if (quoted) core = `${core} ${quoted}`;
  const phrase = [core, ...post].join(" ");
  return det === "the" ? `the ${phrase}` : det === "a" ? article(phrase) : phrase;
}

function movingPhrase(d: Direction): string {
  return d === "left" || d === "right" ? `moving to the ${d}` : `moving ${d}`;
}

const SCENE_AS_NOUN: Record<SceneType, string> = {
  beach: "a beach",
  forest: "a forest",
  night: "a night sky",
  room: "a room",
  field: "a field",
  snow: "a snowy place",
};

/** Prints a program as a question, choosing among several phrasings. */
export function printQuestion(p: Program, w: Words): string {
  const r = w.rng;
  const the = (ref: Ref) => nounPhrase(ref, "the", w);
  switch (p.op) {
    case "exists":
      if (p.filter.target === "word") {
        const text = p.filter.atoms.find((a) => a.kind === "text");
        if (text && text.kind === "text") {
          const rest = nounPhrase({ target: "word", atoms: p.filter.atoms.filter((a) => a !== text) }, "the", w);
          const where = rest.replace(/^the word ?/, "");
          return `Is the word ${text.text} written ${where || "in the image"}?`;
        }
        return `Is there ${nounPhrase(p.filter, "a", w)} written in the image?`;
      }
      return r.pick([
        `Is there ${nounPhrase(p.filter, "a", w)} in the image?`,
        `Can you see ${nounPhrase(p.filter, "a", w)}?`,
        `Does the image show ${nounPhrase(p.filter, "a", w)}?`,
      ]);
    case "count": {
      const text = p.filter.atoms.find((a) => a.kind === "text");
      if (text && text.kind === "text") {
        const rest = nounPhrase({ target: "word", atoms: p.filter.atoms.filter((a) => a !== text) }, "the", w);
        const where = rest.replace(/^the (\w+ )?word ?/, "");
        const colour = rest.match(/^the (\w+) word/)?.[1];
        return `How many times is the word ${text.text} written${colour ? ` in ${colour}` : ""}${where ? ` ${where}` : ""}?`;
      }
      const np = nounPhrase(p.filter, "plural", w);
      return r.pick([`How many ${np} are there?`, `How many ${np} can you see?`, `What is the number of ${np}?`]);
    }
    case "count_distinct": {
      const np = nounPhrase(p.filter, "plural", w);
      return p.attribute === "color"
        ? r.pick([`How many different colors do the ${np} have?`, `How many colors appear among the ${np}?`])
        : r.pick([`How many different shapes do the ${np} have?`, `How many shapes appear among the ${np}?`]);
    }
    case "all_same": {
      const np = nounPhrase(p.filter, "plural", w);
      return p.attribute === "color"
        ? r.pick([`Are all the ${np} the same color?`, `Do all the ${np} have the same color?`])
        : r.pick([`Are all the ${np} the same shape?`, `Do all the ${np} have the same shape?`]);
    }
    case "query": {
      const np = the(p.ref);
      switch (p.attribute) {
        case "color":
          return r.pick([`What color is ${np}?`, `Which color does ${np} have?`]);
        case "shape":
          return r.pick([`What shape is ${np}?`, `What is the shape of ${np}?`]);
        case "name":
          return r.pick([`What kind of object is ${np}?`, `What is ${np}?`]);
        case "position":
          return r.pick([`Where is ${np}?`, `In which part of the image is ${np}?`]);
        case "motion":
          return r.pick([`Which way is ${np} moving?`, `In which direction is ${np} moving?`]);
        case "partner":
          return r.pick([`What is ${np} touching?`, `Which object does ${np} touch?`]);
        case "text": {
          const where = np.replace(/^the word ?/, "");
          return where
            ? r.pick([`What word is written ${where}?`, `What does the word ${where} say?`])
            : "What word is written in the image?";
        }
      }
      break;
    }
    case "is_moving":
      return r.pick([`Is ${the(p.ref)} moving?`, `Is ${the(p.ref)} in motion?`]);
    case "relation":
      return `Is ${the(p.a)} ${REL_PHRASE[p.relation]} ${the(p.b)}?`;
    case "same":
      return p.attribute === "color"
        ? r.pick([
            `Is ${the(p.a)} the same color as ${the(p.b)}?`,
            `Do ${the(p.a)} and ${the(p.b)} have the same color?`,
          ])
        : r.pick([
            `Is ${the(p.a)} the same shape as ${the(p.b)}?`,
            `Do ${the(p.a)} and ${the(p.b)} have the same shape?`,
          ]);
    case "touching":
      if (!p.b) return r.pick([`Is ${the(p.a)} touching another object?`, `Does ${the(p.a)} touch any other object?`]);
      return r.pick([`Is ${the(p.a)} touching ${the(p.b)}?`, `Does ${the(p.a)} touch ${the(p.b)}?`]);
    case "scene":
      return r.pick([
        "What kind of place is this?",
        "Where does this scene take place?",
        "What is the setting of this image?",
      ]);
    case "is_scene": {
      const place = SCENE_AS_NOUN[p.scene];
      if (!p.cond) return r.pick([`Is this ${place}?`, `Does this scene take place in ${place}?`]);
      if (p.cond.kind === "exists") return `Is this ${place} with ${nounPhrase(p.cond.filter, "a", w)} in it?`;
      const n = p.cond.count ?? 0;
      return `Is this ${place} with exactly ${n} ${nounPhrase(p.cond.filter, n === 1 ? "a" : "plural", w).replace(/^an? /, "")}?`;
    }
  }
  throw new Error("printQuestion: unreachable");
}
