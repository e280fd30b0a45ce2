// Necessity: every part of a question program (questions.ts) must matter.
//
// What "needs" means here: every capability comes from one part of the program (an attribute in
// a referring expression, or what is asked), and every part is necessary: a referring expression
// picks exactly one thing and dropping any of its parts makes it ambiguous; dropping a part of a
// count, a comparison or a "no" existence question changes the answer. Yes/no questions are
// balanced (half "yes"). Conjunctions with the scene type ("Is this a beach with a red star?")
// need every part only in the sense that the model cannot know which part is false.
import { evaluate, matches } from "./question-eval.js";
import type { Atom, Entity, Program, QueryAttribute, Ref } from "./questions.js";
import type { Scene } from "./scene.js";

const without = (ref: Ref, i: number): Ref => ({ target: ref.target, atoms: ref.atoms.filter((_, j) => j !== i) });

/** Picks one thing, and loses that when any atom is dropped; nested expressions likewise. */
export function isMinimalUnique(scene: Scene, ref: Ref): boolean {
  if (matches(scene, ref).length !== 1) return false;
  for (let i = 0; i < ref.atoms.length; i++) {
    if (matches(scene, without(ref, i)).length === 1) return false;
  }
  return nestedOk(scene, ref);
}

const FAMILY: Record<Atom["kind"], string> = {
  color: "color",
  noun: "shape",
  shaped: "shape",
  cell: "place",
  row: "place",
  column: "place",
  moving: "motion",
  still: "motion",
  touching: "touching",
  relation: "relation",
  text: "text",
};

/** At most one atom per attribute (two would be redundant or contradictory). */
function sane(ref: Ref): boolean {
  const families = ref.atoms.map((a) => FAMILY[a.kind]);
  return new Set(families).size === families.length;
}

function nestedOk(scene: Scene, ref: Ref): boolean {
  if (!sane(ref)) return false;
  return ref.atoms.every(
    (a) => !((a.kind === "touching" || a.kind === "relation") && a.ref) || isMinimalUnique(scene, a.ref),
  );
}

/** Each atom changes the value of `f` over the filter's matches when dropped. */
function everyAtomMatters(scene: Scene, ref: Ref, f: (m: Entity[]) => string): boolean {
  const base = f(matches(scene, ref));
  for (let i = 0; i < ref.atoms.length; i++) if (f(matches(scene, without(ref, i))) === base) return false;
  return nestedOk(scene, ref);
}

const FORBIDDEN: Record<QueryAttribute, Atom["kind"][]> = {
  color: ["color"],
  shape: ["noun", "shaped"],
  name: ["noun", "shaped"],
  position: ["cell", "row", "column"],
  motion: ["moving", "still"],
  partner: ["touching", "noun", "shaped"],
  text: ["text"],
};

/** A program is well posed when it has an answer and every part of it is needed. */
export function isWellPosed(scene: Scene, p: Program): boolean {
  if (evaluate(scene, p) === null) return false;
  const kinds = (r: Ref) => r.atoms.map((a) => a.kind);
  switch (p.op) {
    case "exists": {
      if (p.filter.atoms.length === 0) return false;
      const n = matches(scene, p.filter).length;
      // "yes": each atom rules something out; "no": dropping any atom makes it "yes".
      return n > 0
        ? everyAtomMatters(scene, p.filter, (m) => String(m.length))
        : p.filter.atoms.every((_, i) => matches(scene, without(p.filter, i)).length > 0) && nestedOk(scene, p.filter);
    }
    case "count":
      return matches(scene, p.filter).length > 0 && everyAtomMatters(scene, p.filter, (m) => String(m.length));
    case "count_distinct":
    case "all_same": {
      const bad = p.attribute === "color" ? ["color"] : ["noun", "shaped"];
      if (p.filter.target !== "object" || kinds(p.filter).some((k) => bad.includes(k))) return false;
      if (matches(scene, p.filter).length < 2) return false;
      const f = (m: Entity[]) => {
        const values = m.map((e) => (e.type === "object" ? e.o[p.attribute] : ""));
        return p.op === "all_same" ? String(m.length >= 2 && new Set(values).size === 1) : String(new Set(values).size);
      };
      return everyAtomMatters(scene, p.filter, f);
    }
    case "query":
      if ((p.attribute === "text") !== (p.ref.target === "word")) return false;
      if (kinds(p.ref).some((k) => FORBIDDEN[p.attribute].includes(k))) return false;
      return isMinimalUnique(scene, p.ref);
    case "is_moving":
      return (
        p.ref.target === "object" &&
        !kinds(p.ref).some((k) => k === "moving" || k === "still") &&
        isMinimalUnique(scene, p.ref)
      );
    case "relation":
      return isMinimalUnique(scene, p.a) && isMinimalUnique(scene, p.b);
    case "same": {
      // Naming either thing by the compared attribute would give the answer away in words.
      const bad = p.attribute === "color" ? ["color"] : ["noun", "shaped"];
      if ([...kinds(p.a), ...kinds(p.b)].some((k) => bad.includes(k))) return false;
      return isMinimalUnique(scene, p.a) && isMinimalUnique(scene, p.b);
    }
    case "touching":
      return (
        isMinimalUnique(scene, p.a) &&
        !kinds(p.a).includes("touching") &&
        (!p.b || (isMinimalUnique(scene, p.b) && !kinds(p.b).includes("touching")))
      );
    case "scene":
      return true;
    case "is_scene": {
      if (!p.cond) return true;
      const c = p.cond;
      if (c.filter.target !== "object" && c.kind === "count") return false;
      const n = matches(scene, c.filter).length;
      if (c.kind === "exists") return isWellPosed(scene, { op: "exists", filter: c.filter });
      return c.filter.target === "object" && n > 0 && everyAtomMatters(scene, c.filter, (m) => String(m.length));
    }
  }
}
