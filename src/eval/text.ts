// Text helpers shared by the metrics: word tokens, a simple singularizer for the world's
// vocabulary, and a synonym table (first entry of a line canonical, as CHAIR's synonyms.txt)
// with longest-match phrase finding.

/**
 * Lower-cased word tokens. Hyphenated and apostrophe words stay whole ("star-shaped", "isn't"),
 * as nltk's word_tokenize keeps them, so that "star-shaped" is not a mention of "star".
 */
export function wordTokens(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

const WORD = /[a-z0-9]+(?:['’-][a-z0-9]+)*/g;

/** A word token with where it stands in the lower-cased text (`start` inclusive, `end` exclusive). */
export interface TokenSpan {
  token: string;
  start: number;
  end: number;
}

/**
 * wordTokens with their character offsets, token for token the same list, so that a mention
 * found by SynonymTable.findMentionsInTokens (token indices) can be marked in the text. Offsets
 * index the lower-cased text, which has the original's offsets unless lower-casing changed a
 * character's length (a few non-ASCII letters; the report checks).
 */
export function wordTokenSpans(text: string): TokenSpan[] {
  return [...text.toLowerCase().matchAll(WORD)].map((m) => ({
    token: m[0],
    start: m.index,
    end: m.index + m[0].length,
  }));
}

/** Words irregular enough that the suffix rules below would get them wrong. */
const IRREGULAR_PLURALS: Readonly<Record<string, string>> = {
  men: "man",
  women: "woman",
  children: "child",
  people: "person",
  mice: "mouse",
  geese: "goose",
  feet: "foot",
  teeth: "tooth",
  leaves: "leaf",
  wolves: "wolf",
  knives: "knife",
  lives: "life",
  halves: "half",
  fish: "fish",
  sheep: "sheep",
  deer: "deer",
  series: "series",
  species: "species",
};

/**
 * The singular of an English noun by suffix rules, enough for the world's object words:
 * "circles"→"circle", "crosses"→"cross", "boxes"→"box", "berries"→"berry", "arches"→"arch".
 * Words that do not look plural ("cross", "bus", "this", "glass") come back unchanged. Matching
 * uses singularCandidates against the vocabulary instead (see SynonymTable.normalizeToken), so
 * a wrong singular of a non-object word ("was"→"wa") never matters there.
 */
export function singularize(word: string): string {
  const w = word.toLowerCase();
  const irregular = IRREGULAR_PLURALS[w];
  if (irregular !== undefined) return irregular;
  if (w.length <= 3) return w; // "is", "has", "bus", "yes"
  if (w.endsWith("ies") && w.length > 4) return `${w.slice(0, -3)}y`;
  // Sibilant + "es": crosses, boxes, arches, brushes, buzzes.
  if (/(ss|x|ch|sh|z)es$/.test(w)) return w.slice(0, -2);
  if (w.endsWith("ss") || w.endsWith("us") || w.endsWith("is")) return w;
  if (w.endsWith("s")) return w.slice(0, -1);
  return w;
}

/**
 * The forms a plural-looking word may be the plural of, most likely first: the irregular form,
 * "-ies"→"-y", "-men"→"-man", "-ves"→"-f"/"-fe", "-es" dropped, "-s" dropped ("buses" → bus,
 * buse; "houses" → hous, house). The synonym table keeps the first that is a vocabulary word,
 * so ambiguous endings resolve by the vocabulary instead of by a guess.
 */
export function singularCandidates(word: string): string[] {
  const w = word.toLowerCase();
  const out: string[] = [];
  const irregular = IRREGULAR_PLURALS[w];
  if (irregular !== undefined) out.push(irregular);
  if (w.endsWith("ies") && w.length > 4) out.push(`${w.slice(0, -3)}y`);
  // Compounds of "man" ("policemen", "snowmen") and "-f(e)" plurals ("calves", "wolves").
  if (w.endsWith("men") && w.length > 3) out.push(`${w.slice(0, -3)}man`);
  if (w.endsWith("ves") && w.length > 3) out.push(`${w.slice(0, -3)}f`, `${w.slice(0, -3)}fe`);
  if (w.endsWith("es") && w.length > 3) out.push(w.slice(0, -2));
  if (w.endsWith("s") && !w.endsWith("ss") && w.length > 2) out.push(w.slice(0, -1));
  return out;
}

/** One phrase found in a text: its canonical name, the words as written, where it stands. */
export interface PhraseMention {
  canonical: string;
  surface: string;
  /** Index of its first token. */
  index: number;
  /** Tokens it spans. */
  length: number;
}

/**
 * A synonym table: each group lists a canonical name first, then its synonyms; any entry may be
 * several words ("five-pointed star"). Matching is on lower-cased word tokens, a token being
 * singularized when a singular of it (and not itself) is a vocabulary word.
 */
export class SynonymTable {
  /** normalized phrase (tokens joined by one space) → canonical name */
  readonly #phrases = new Map<string, string>();
  /** every word that occurs in some entry */
  readonly #words = new Set<string>();
  readonly #maxWords: number;
  readonly #names: ReadonlySet<string>;
  readonly canonicalNames: readonly string[];

  /**
   * With `matchCanonical: false` the first entry of a group is only its name (an id such as
   * "tail:fan") and is not looked for in text; the other entries are.
   */
  constructor(groups: readonly (readonly string[])[], options: { matchCanonical?: boolean } = {}) {
    const matchCanonical = options.matchCanonical ?? true;
    const cleaned = groups
      .map((group) => group.map((e) => e.trim()).filter((e) => e !== ""))
      .filter((entries) => entries.length > 0)
      .map((entries) => ({
        canonical: entries[0].toLowerCase(),
        phrases: matchCanonical ? entries : entries.slice(1),
      }));
    for (const { phrases } of cleaned) for (const p of phrases) for (const w of wordTokens(p)) this.#words.add(w);
    // Phrases are normalized against the complete vocabulary, hence a second pass.
    let maxWords = 1;
    for (const { canonical, phrases } of cleaned) {
      for (const phrase of phrases) {
        const tokens = wordTokens(phrase).map((t) => this.normalizeToken(t));
        if (tokens.length === 0) continue;
        const key = tokens.join(" ");
        const previous = this.#phrases.get(key);
        if (previous !== undefined && previous !== canonical) {
          throw new Error(`synonym table: '${phrase}' is listed under both '${previous}' and '${canonical}'`);
        }
        this.#phrases.set(key, canonical);
        maxWords = Math.max(maxWords, tokens.length);
      }
    }
    this.#maxWords = maxWords;
    this.canonicalNames = unique(cleaned.map((g) => g.canonical));
    this.#names = new Set(this.canonicalNames);
  }

  /**
   * Parses a table written one group per line, canonical first. Entries are separated by commas
   * when the line has any (so entries may be several words, as in CHAIR's synonyms.txt), else by
   * whitespace. Blank lines and lines starting with '#' are skipped.
   */
  static parse(text: string): SynonymTable {
    const groups = text
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"))
      .map((line) => (line.includes(",") ? line.split(",") : line.split(/\s+/)));
    return new SynonymTable(groups);
  }

  /** The token itself when it is a vocabulary word, else its singular when that is one. */
  normalizeToken(token: string): string {
    const t = token.toLowerCase();
    if (this.#words.has(t)) return t;
    for (const s of singularCandidates(t)) if (this.#words.has(s)) return s;
    return t;
  }

  /** The canonical name of a canonical name, a word or a phrase; null when it is not in the table. */
  canonical(phrase: string): string | null {
    const name = phrase.trim().toLowerCase();
    if (this.#names.has(name)) return name;
    const key = wordTokens(phrase)
      .map((t) => this.normalizeToken(t))
      .join(" ");
    return this.#phrases.get(key) ?? null;
  }

  /**
   * Every mention in the text, left to right, longest match first ("traffic light" before
   * "light"); matched tokens are consumed. Duplicates are kept: "a circle and another circle"
   * gives two mentions, as CHAIR counts them.
   */
  findMentions(text: string): PhraseMention[] {
    return this.findMentionsInTokens(wordTokens(text));
  }

  /** findMentions over tokens already split (an empty token never matches: use it to mask). */
  findMentionsInTokens(raw: readonly string[]): PhraseMention[] {
    const tokens = raw.map((t) => this.normalizeToken(t));
    const found: PhraseMention[] = [];
    let i = 0;
    while (i < tokens.length) {
      let matched = 0;
      for (let n = Math.min(this.#maxWords, tokens.length - i); n >= 1; n--) {
        const canonical = this.#phrases.get(tokens.slice(i, i + n).join(" "));
        if (canonical !== undefined) {
          found.push({ canonical, surface: raw.slice(i, i + n).join(" "), index: i, length: n });
          matched = n;
          break;
        }
      }
      i += matched > 0 ? matched : 1;
    }
    return found;
  }
}

/** Ratio with an explicit value for an empty denominator (documented per metric). */
export function ratio(numerator: number, denominator: number, whenEmpty = 0): number {
  return denominator === 0 ? whenEmpty : numerator / denominator;
}

/** Distinct values in first-seen order. */
export function unique<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}
