// A question program's answer on a scene graph (questions.ts): the things its referring
// expressions pick, and its short answer.
import type { Atom, Entity, Program, Ref, SpatialRelation } from "./questions.js";
import { above, column, leftOf, row, type Scene, type SceneWord } from "./scene.js";
import { CELL_NAMES, SCENE_NOUNS } from "./vocabulary.js";

function entities(scene: Scene, target: Ref["target"]): Entity[] {
  return target === "object"
    ? scene.objects.map((o) => ({ type: "object" as const, o }))
    : scene.words.map((w) => ({ type: "word" as const, w }));
}

const cellOf = (e: Entity) => (e.type === "object" ? e.o.cell : e.w.cell);

function holds(scene: Scene, e: Entity, a: Atom): boolean {
  const o = e.type === "object" ? e.o : null;
  switch (a.kind) {
    case "color":
      return (o ?? (e as { w: SceneWord }).w).color === a.color;
    case "noun":
    case "shaped":
      return o?.shape === a.shape;
    case "cell":
      return cellOf(e) === a.cell;
    case "row":
      return row(cellOf(e)) === a.row;
    case "column":
      return column(cellOf(e)) === a.column;
    case "moving":
      return !!o?.motion && (a.direction === null || o.motion === a.direction);
    case "still":
      return !!o && o.motion === null;
    case "touching": {
      if (!o || o.touching === null) return false;
      if (!a.ref) return true;
      const other = resolve(scene, a.ref);
      return other?.type === "object" && other.o.id === o.touching;
    }
    case "relation": {
      const other = resolve(scene, a.ref);
      if (!other || sameEntity(other, e)) return false;
      return relationHolds(a.relation, cellOf(e), cellOf(other));
    }
    case "text":
      return e.type === "word" && e.w.text === a.text;
  }
}

function relationHolds(rel: SpatialRelation, a: number, b: number): boolean {
  const A = { cell: a };
  const B = { cell: b };
  return rel === "left_of"
    ? leftOf(A, B)
    : rel === "right_of"
      ? leftOf(B, A)
      : rel === "above"
        ? above(A, B)
        : above(B, A);
}

const sameEntity = (a: Entity, b: Entity) =>
  a.type === b.type && (a.type === "object" ? a.o === (b as typeof a).o : a.w === (b as { w: SceneWord }).w);

export function matches(scene: Scene, ref: Ref): Entity[] {
  return entities(scene, ref.target).filter((e) => ref.atoms.every((a) => holds(scene, e, a)));
}

/** The one thing a referring expression picks, or null when it picks none or several. */
export function resolve(scene: Scene, ref: Ref): Entity | null {
  const m = matches(scene, ref);
  return m.length === 1 ? m[0] : null;
}

/** The short answer of a program, or null when the program does not fit the scene. */
export function evaluate(scene: Scene, p: Program): string | null {
  const yn = (b: boolean) => (b ? "yes" : "no");
  switch (p.op) {
    case "exists":
      return yn(matches(scene, p.filter).length > 0);
    case "count":
      return String(matches(scene, p.filter).length);
    case "count_distinct": {
      const m = matches(scene, p.filter).map((e) => (e.type === "object" ? e.o[p.attribute] : ""));
      return String(new Set(m).size);
    }
    case "all_same": {
      const m = matches(scene, p.filter).map((e) => (e.type === "object" ? e.o[p.attribute] : ""));
      return m.length < 2 ? null : yn(new Set(m).size === 1);
    }
    case "query": {
      const e = resolve(scene, p.ref);
      if (!e) return null;
      if (p.attribute === "position") return CELL_NAMES[cellOf(e)];
      if (e.type === "word") return p.attribute === "text" ? e.w.text : p.attribute === "color" ? e.w.color : null;
      const o = e.o;
      if (p.attribute === "color") return o.color;
      if (p.attribute === "shape" || p.attribute === "name") return o.shape;
      if (p.attribute === "motion") return o.motion;
      if (p.attribute === "partner") return o.touching === null ? null : scene.objects[o.touching].shape;
      return null;
    }
    case "is_moving": {
      const e = resolve(scene, p.ref);
      return e?.type === "object" ? yn(e.o.motion !== null) : null;
    }
    case "relation": {
      const a = resolve(scene, p.a);
      const b = resolve(scene, p.b);
      if (!a || !b || sameEntity(a, b)) return null;
      return yn(relationHolds(p.relation, cellOf(a), cellOf(b)));
    }
    case "same": {
      const a = resolve(scene, p.a);
      const b = resolve(scene, p.b);
      if (a?.type !== "object" || b?.type !== "object" || a.o === b.o) return null;
      return yn(a.o[p.attribute] === b.o[p.attribute]);
    }
    case "touching": {
      const a = resolve(scene, p.a);
      if (a?.type !== "object") return null;
      if (!p.b) return yn(a.o.touching !== null);
      const b = resolve(scene, p.b);
      if (b?.type !== "object" || b.o === a.o) return null;
      return yn(a.o.touching === b.o.id);
    }
    case "scene":
      return SCENE_NOUNS[scene.background];
    case "is_scene": {
      let ok = scene.background === p.scene;
      if (p.cond) {
        const n = matches(scene, p.cond.filter).length;
        ok &&= p.cond.kind === "exists" ? n > 0 : n === p.cond.count;
      }
      return yn(ok);
    }
  }
}
