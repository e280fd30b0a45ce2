// CHAIR's object matching for MS-COCO, as chair.py does it (LisaAnne/Hallucination, utils/chair.py,
// `caption_to_words`, and the copies in LURE, OPERA and HA-DPO): lower-cased word tokens,
// plurals singularized, chair.py's two-word phrases replaced first ("baby dog" is a dog, not a
// person and a dog; "train track" names nothing), "seat" dropped from a description that mentions
// a toilet, then every word or phrase of the synonym list mapped to its COCO category.
//
// Built on the project's SynonymTable (longest match first, plurals singularized against the
// vocabulary): chair.py's two-word phrases become entries of the table, those that name no
// category under a group whose mentions are dropped. Where this departs from chair.py: tokens are
// the project's wordTokens (nltk's word_tokenize also splits "isn't" into "is" "n't", which never
// names an object), and singulars come from the vocabulary instead of pattern.en, so a word is
// only singularized into a word of the list.
import type { ObjectMatcher } from "./chair.js";
import { COCO_NON_OBJECT_PHRASES, COCO_QUALIFIED_PHRASES, COCO_SYNONYMS_TEXT } from "./coco-synonyms.js";
import { type PhraseMention, SynonymTable } from "./text.js";

/** The id of the group of phrases that consume their words but name no category. */
const NO_OBJECT = "(no object)";

/** The synonym list's lines as groups, category name first (entries split on ", " as chair.py does). */
export function cocoSynonymGroups(text = COCO_SYNONYMS_TEXT): string[][] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => line.split(", ").map((entry) => entry.trim()));
}

export class CocoObjectMatcher implements ObjectMatcher {
  readonly #table: SynonymTable;
  /** The 80 category names, in the list's order. */
  readonly categories: readonly string[];

  constructor() {
    const groups = cocoSynonymGroups();
    const plain = new SynonymTable(groups);
    this.categories = plain.canonicalNames;
    // Each group keyed by its category name, the name itself listed again as an entry to match
    // (matchCanonical: false keeps the no-object group's id from being looked for in text).
    const byCategory = new Map(groups.map((entries) => [entries[0].toLowerCase(), [entries[0], ...entries]]));
    const noObject = [NO_OBJECT, ...COCO_NON_OBJECT_PHRASES];
    for (const [phrase, word] of Object.entries(COCO_QUALIFIED_PHRASES)) {
      const category = plain.canonical(word);
      (category === null ? noObject : byCategory.get(category)!).push(phrase);
    }
    this.#table = new SynonymTable([...byCategory.values(), noObject], { matchCanonical: false });
  }

  /** The COCO category of a category name or synonym; null for anything else. */
  canonical(phrase: string): string | null {
    const name = this.#table.canonical(phrase);
    return name === NO_OBJECT ? null : name;
  }

  /** Every mention of a COCO category, left to right, repeats kept (CHAIR counts each). */
  findMentions(text: string): PhraseMention[] {
    const found = this.#table.findMentions(text).filter((m) => m.canonical !== NO_OBJECT);
    // chair.py: "toilet seat is not chair": with a toilet in the description, every "seat" goes.
    const words = found.map((m) => this.#normalized(m.surface));
    if (!words.some((w) => w === "toilet" || w === "toilet seat")) return found;
    return found.filter((_, i) => words[i] !== "seat");
  }

  #normalized(surface: string): string {
    return surface
      .split(" ")
      .map((t) => this.#table.normalizeToken(t))
      .join(" ");
  }
}
