// STS's concepts: per class, a list of visual features (METHODS.md section 4, step 1). The paper
// has a strong LLM write them ("list distinctive visual features of the {label}"); on SceneWorld
// each species' own concept list stands in for that (the phrases the world's language writes,
// e.g. "a fan tail"), and for real data the user supplies a file:
//
//   JSON or YAML (by extension: .json, .yaml, .yml), a mapping of class to its features:
//     { "Black-footed Albatross": ["dark brown plumage", "long narrow wings", ...], ... }
//   or the released code's layout (sycny/SelfSynthX, <dataset>_visual_features.json):
//     { "0": { "name": "Black-footed Albatross", "visual_features": [...] }, ... }
//
// Every problem names the file and what is wrong: unreadable or unparsable text, a top level
// that is not a mapping, a class the run does not know, a class without features, an empty or
// non-string feature, a class missing from the file. On the user's labelled images the classes
// are the labels the source lists, and the file may list more classes than those (a file for all
// of CUB-200's classes beside a subset of its images): each label must have its features.
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse as parseYaml } from "yaml";
import { concept, SPECIES } from "../../world/creatures.js";

/** Class name → its visual features, in the order given. */
export type ConceptLists = ReadonlyMap<string, readonly string[]>;

export class ConceptsFileError extends Error {
  override name = "ConceptsFileError";
}

/** SceneWorld: each species' concepts as the world's language writes them. */
export function worldConceptLists(): ConceptLists {
  return new Map(SPECIES.map((s) => [s.name, s.concepts.map((id) => concept(id).phrase)]));
}

function parseText(path: string, text: string): unknown {
  const ext = extname(path).toLowerCase();
  try {
    if (ext === ".json") return JSON.parse(text);
    if (ext === ".yaml" || ext === ".yml") return parseYaml(text);
  } catch (error) {
    throw new ConceptsFileError(
      `${path}: not valid ${ext === ".json" ? "JSON" : "YAML"}: ${(error as Error).message.split("\n")[0]}`,
    );
  }
  throw new ConceptsFileError(`${path}: unknown extension '${ext}'; use .json, .yaml or .yml`);
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** The file's (class, features) entries, in either layout. */
function entries(path: string, data: unknown): [string, unknown][] {
  if (!isRecord(data))
    throw new ConceptsFileError(
      `${path}: expected a mapping of class name to a list of visual features, got ${Array.isArray(data) ? "a list" : typeof data}`,
    );
  return Object.entries(data).map(([key, value]) => {
    if (isRecord(value) && "visual_features" in value) {
      if (typeof value.name !== "string" || value.name.trim() === "")
        throw new ConceptsFileError(`${path}: entry '${key}': 'name' must be a non-empty string`);
      return [value.name, value.visual_features];
    }
    return [key, value];
  });
}

export interface ConceptsFileOptions {
  /** Classes of the file beyond `classes`: refused (SceneWorld's species: a typo), or kept. */
  others?: "refuse" | "keep";
  /** Names where the classes come from in a missing class's error (`labelled image folder DIR`). */
  classesFrom?: string;
}

/**
 * Reads a concepts file and checks it against `classes` (the run's labels): every class listed,
 * none unknown (unless `others: keep`), each with at least one non-empty feature (duplicates dropped).
 */
export function loadConceptsFile(
  path: string,
  classes: readonly string[],
  options: ConceptsFileOptions = {},
): ConceptLists {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConceptsFileError(`${path}: cannot read the concepts file: ${(error as Error).message}`);
  }
  const known = new Set(classes);
  const out = new Map<string, string[]>();
  for (const [name, value] of entries(path, parseText(path, text))) {
    if (!known.has(name) && options.others !== "keep")
      throw new ConceptsFileError(
        `${path}: unknown class '${name}'; the classes are: ${classes.slice(0, 20).join(", ")}${classes.length > 20 ? ", ..." : ""}`,
      );
    if (out.has(name)) throw new ConceptsFileError(`${path}: class '${name}' is listed twice`);
    if (!Array.isArray(value))
      throw new ConceptsFileError(`${path}: class '${name}': expected a list of visual features, got ${typeof value}`);
    if (value.length === 0)
      throw new ConceptsFileError(`${path}: class '${name}': the list of visual features is empty`);
    const features: string[] = [];
    value.forEach((f, i) => {
      if (typeof f !== "string" || f.trim() === "")
        throw new ConceptsFileError(`${path}: class '${name}': feature ${i} must be a non-empty string`);
      if (!features.includes(f.trim())) features.push(f.trim());
    });
    out.set(name, features);
  }
  const missing = classes.filter((c) => !out.has(c));
  if (missing.length > 0)
    throw new ConceptsFileError(
      `${path}: no visual features for class${missing.length > 1 ? "es" : ""} ${missing.join(", ")}${options.classesFrom === undefined ? "" : ` (label${missing.length > 1 ? "s" : ""} of ${options.classesFrom})`}`,
    );
  return out;
}
