// Questions as small programs over the scene graph. A program names the capabilities it needs
// (COMPACT's ten), evaluates to its short answer, and prints as varied English. The oracle
// `composeQuestion` (compose.ts) builds a program that needs exactly a given set of k capabilities.
//
// Here: the program format and the capabilities a program needs. question-eval.ts evaluates a
// program on a scene, question-well-posed.ts checks that every part of it is needed, and
// question-english.ts prints it.
import type { SceneObject, SceneWord } from "./scene.js";
import type { Color, Direction, SceneType, Shape } from "./vocabulary.js";

export const CAPABILITIES = [
  "color",
  "shape",
  "object_recognition",
  "action_recognition",
  "text_recognition",
  "spatial_recognition",
  "counting",
  "spatial_relationship",
  "object_interaction",
  "scene_understanding",
] as const;
export type Capability = (typeof CAPABILITIES)[number];

export type SpatialRelation = "left_of" | "right_of" | "above" | "below";

export type Atom =
  | { kind: "color"; color: Color }
  | { kind: "noun"; shape: Shape }
  | { kind: "shaped"; shape: Shape }
  | { kind: "cell"; cell: number }
  | { kind: "row"; row: number }
  | { kind: "column"; column: number }
  | { kind: "moving"; direction: Direction | null }
  | { kind: "still" }
  | { kind: "touching"; ref: Ref | null }
  | { kind: "relation"; relation: SpatialRelation; ref: Ref }
  | { kind: "text"; text: string };

/** A referring expression: the objects (or words) that satisfy every atom. */
export interface Ref {
  target: "object" | "word";
  atoms: Atom[];
}

export type Program =
  | { op: "exists"; filter: Ref }
  | { op: "count"; filter: Ref }
  | { op: "count_distinct"; attribute: "color" | "shape"; filter: Ref }
  | { op: "all_same"; attribute: "color" | "shape"; filter: Ref }
  | { op: "query"; attribute: QueryAttribute; ref: Ref }
  | { op: "is_moving"; ref: Ref }
  | { op: "relation"; relation: SpatialRelation; a: Ref; b: Ref }
  | { op: "same"; attribute: "color" | "shape"; a: Ref; b: Ref }
  | { op: "touching"; a: Ref; b: Ref | null }
  | { op: "scene" }
  | { op: "is_scene"; scene: SceneType; cond: SceneCondition | null };

export type QueryAttribute = "color" | "shape" | "name" | "position" | "motion" | "partner" | "text";
export interface SceneCondition {
  kind: "exists" | "count";
  filter: Ref;
  /** For "count": the number the question states. */
  count?: number;
}

export interface Question {
  question: string;
  answer: string;
  capabilities: Capability[];
  k: number;
  program: Program;
}

export type Entity = { type: "object"; o: SceneObject } | { type: "word"; w: SceneWord };

// ---------------------------------------------------------------------------------------------
// Capabilities of a program

const ATOM_CAP: Record<Atom["kind"], Capability> = {
  color: "color",
  noun: "object_recognition",
  shaped: "shape",
  cell: "spatial_recognition",
  row: "spatial_recognition",
  column: "spatial_recognition",
  moving: "action_recognition",
  still: "action_recognition",
  touching: "object_interaction",
  relation: "spatial_relationship",
  text: "text_recognition",
};

const QUERY_CAPS: Record<QueryAttribute, Capability[]> = {
  color: ["color"],
  shape: ["shape"],
  name: ["object_recognition"],
  position: ["spatial_recognition"],
  motion: ["action_recognition"],
  partner: ["object_interaction", "object_recognition"],
  text: ["text_recognition"],
};

function refCaps(ref: Ref | null, out: Set<Capability>): Set<Capability> {
  if (!ref) return out;
  for (const a of ref.atoms) {
    out.add(ATOM_CAP[a.kind]);
    if (a.kind === "touching" || a.kind === "relation") refCaps(a.ref, out);
  }
  return out;
}

/** The capabilities a program needs, in the canonical order. */
export function programCapabilities(p: Program): Capability[] {
  const s = new Set<Capability>();
  switch (p.op) {
    case "exists":
      refCaps(p.filter, s);
      break;
    case "count":
      s.add("counting");
      refCaps(p.filter, s);
      break;
    case "count_distinct":
      s.add("counting");
      s.add(p.attribute);
      refCaps(p.filter, s);
      break;
    case "all_same":
      s.add(p.attribute);
      refCaps(p.filter, s);
      break;
    case "query":
      for (const c of QUERY_CAPS[p.attribute]) s.add(c);
      refCaps(p.ref, s);
      break;
    case "is_moving":
      s.add("action_recognition");
      refCaps(p.ref, s);
      break;
    case "relation":
      s.add("spatial_relationship");
      refCaps(p.a, s);
      refCaps(p.b, s);
      break;
    case "same":
      s.add(p.attribute);
      refCaps(p.a, s);
      refCaps(p.b, s);
      break;
    case "touching":
      s.add("object_interaction");
      refCaps(p.a, s);
      refCaps(p.b, s);
      break;
    case "scene":
      s.add("scene_understanding");
      break;
    case "is_scene":
      s.add("scene_understanding");
      if (p.cond?.kind === "count") s.add("counting");
      refCaps(p.cond?.filter ?? null, s);
      break;
  }
  return CAPABILITIES.filter((c) => s.has(c));
}

/**
 * Whether a program is a plain existence question: `exists` over objects named by one noun and
 * nothing else ("Is there a star in the image?", "Can you see a heart?": POPE's question). The
 * extra existence questions of a scene (language.ts, existenceQuestions) are all of this form,
 * and so are the composer's k = 1 object_recognition `exists` questions (same program, same
 * printer). Capabilities alone cannot tell them apart: "What is the object?" also
 * needs only object_recognition (k = 1). Creature questions have no program and are never plain
 * existence questions.
 */
export function isPlainExistence(p: Program): boolean {
  return (
    p.op === "exists" &&
    p.filter.target === "object" &&
    p.filter.atoms.length === 1 &&
    p.filter.atoms[0].kind === "noun"
  );
}
