// The teacher oracle for COMPACT: compose a question that needs exactly a given set of k
// capabilities, and answer it from the scene graph. It builds candidate programs top-down (an
// operation whose own capabilities lie inside the set, then referring expressions that realize
// the rest, drawn from the actual attributes of randomly chosen objects and words), and keeps the
// first one that is well posed (question-well-posed.ts) and needs exactly the set. Null when the
// scene cannot support the set (e.g. text recognition in a scene without words).

import { printQuestion } from "./question-english.js";
import { evaluate } from "./question-eval.js";
import { isWellPosed } from "./question-well-posed.js";
import {
  type Atom,
  CAPABILITIES,
  type Capability,
  type Entity,
  type Program,
  programCapabilities,
  type QueryAttribute,
  type Question,
  type Ref,
  type SpatialRelation,
} from "./questions.js";
import type { Rng } from "./rng.js";
import { above, column, leftOf, row, type Scene } from "./scene.js";
import { COLORS, DEFAULT_WORDS, DIRECTIONS, SCENE_TYPES, type SceneType, SHAPES } from "./vocabulary.js";

export interface ComposeOptions {
  /** Chance that an object word is replaced by a synonym. */
  synonymRate?: number;
  /** Candidate programs tried before giving up. */
  attempts?: number;
  /** Words that may be asked about although absent (for "Is the word X written?"). */
  words?: readonly string[];
}

const YES_NO = new Set<Program["op"]>(["exists", "all_same", "is_moving", "relation", "same", "touching", "is_scene"]);

/** Things a referring expression of each target can say about itself (not through a nested one). */
const OWN: Record<Entity["type"], Capability[]> = {
  object: ["color", "shape", "object_recognition", "spatial_recognition", "action_recognition", "object_interaction"],
  word: ["text_recognition", "spatial_recognition", "color"],
};

function allEntities(scene: Scene): Entity[] {
  return [
    ...scene.objects.map((o) => ({ type: "object" as const, o })),
    ...scene.words.map((w) => ({ type: "word" as const, w })),
  ];
}
const cellOf = (e: Entity) => (e.type === "object" ? e.o.cell : e.w.cell);

/** Builds atoms describing entity `e` that use exactly the capabilities `caps`, or null. */
function describeEntity(scene: Scene, e: Entity, caps: Capability[], rng: Rng, depth: number): Ref | null {
  const atoms: Atom[] = [];
  let own: Capability[] = caps.filter((c) => c !== "spatial_relationship");
  if (caps.includes("spatial_relationship")) {
    if (depth >= 2) return null;
    const others = allEntities(scene).filter((x) => cellOf(x) !== cellOf(e));
    if (!others.length) return null;
    const x = rng.pick(others);
    // Capabilities that only the other thing can carry go inside; others go either way.
    const inner: Capability[] = [];
    const outer: Capability[] = [];
    for (const c of own) {
      const canOut =
        OWN[e.type].includes(c) && !(c === "object_interaction" && e.type === "object" && e.o.touching === null);
      const canIn = OWN[x.type].includes(c);
      if (!canOut && !canIn) return null;
      if (!canOut || (canIn && rng.bernoulli(0.5))) inner.push(c);
      else outer.push(c);
    }
    const rels: SpatialRelation[] = (["left_of", "right_of", "above", "below"] as const).filter((r) => {
      const a = { cell: cellOf(e) };
      const b = { cell: cellOf(x) };
      return r === "left_of"
        ? leftOf(a, b)
        : r === "right_of"
          ? leftOf(b, a)
          : r === "above"
            ? above(a, b)
            : above(b, a);
    });
    const ref = describeEntity(scene, x, inner, rng, depth + 1);
    if (!ref || !rels.length) return null;
    atoms.push({ kind: "relation", relation: rng.pick(rels), ref });
    own = outer;
  }
  for (const c of rng.shuffle(own)) {
    if (!OWN[e.type].includes(c)) return null;
    if (e.type === "word") {
      if (c === "text_recognition") atoms.push({ kind: "text", text: e.w.text });
      else if (c === "color") atoms.push({ kind: "color", color: e.w.color });
      else atoms.push(positionAtom(e.w.cell, rng));
      continue;
    }
    const o = e.o;
    switch (c) {
      case "color":
        atoms.push({ kind: "color", color: o.color });
        break;
      case "object_recognition":
        atoms.push({ kind: "noun", shape: o.shape });
        break;
      case "shape":
        atoms.push({ kind: "shaped", shape: o.shape });
        break;
      case "spatial_recognition":
        atoms.push(positionAtom(o.cell, rng));
        break;
      case "action_recognition":
        atoms.push(o.motion ? { kind: "moving", direction: rng.bernoulli(0.5) ? o.motion : null } : { kind: "still" });
        break;
      case "object_interaction": {
        if (o.touching === null) return null;
        atoms.push({ kind: "touching", ref: null });
        break;
      }
      default:
        return null;
    }
  }
  return { target: e.type, atoms };
}

function positionAtom(cell: number, rng: Rng): Atom {
  const k = rng.int(0, 2);
  return k === 0
    ? { kind: "cell", cell }
    : k === 1
      ? { kind: "row", row: row(cell) }
      : { kind: "column", column: column(cell) };
}

/** Changes one atom's value so that the filter (usually) no longer matches. */
function perturb(ref: Ref, rng: Rng, words: readonly string[]): Ref | null {
  const i = rng.int(0, ref.atoms.length - 1);
  const a = ref.atoms[i];
  let b: Atom | null = null;
  const other = <T>(list: readonly T[], v: T) => rng.pick(list.filter((x) => x !== v));
  switch (a.kind) {
    case "color":
      b = { kind: "color", color: other(COLORS, a.color) };
      break;
    case "noun":
    case "shaped":
      b = { kind: a.kind, shape: other(SHAPES, a.shape) };
      break;
    case "cell":
      b = { kind: "cell", cell: other([0, 1, 2, 3, 4, 5, 6, 7, 8], a.cell) };
      break;
    case "row":
      b = { kind: "row", row: other([0, 1, 2], a.row) };
      break;
    case "column":
      b = { kind: "column", column: other([0, 1, 2], a.column) };
      break;
    case "moving":
      b = a.direction === null ? { kind: "still" } : { kind: "moving", direction: other(DIRECTIONS, a.direction) };
      break;
    case "still":
      b = { kind: "moving", direction: null };
      break;
    case "relation":
      b = { ...a, relation: other(["left_of", "right_of", "above", "below"] as const, a.relation) };
      break;
    case "text":
      b = { kind: "text", text: other(words, a.text) };
      break;
    case "touching":
      return null;
  }
  return { target: ref.target, atoms: ref.atoms.map((x, j) => (j === i ? b! : x)) };
}

/** Splits capabilities between two referring expressions (each may also take a shared one). */
function split(caps: Capability[], rng: Rng): [Capability[], Capability[]] {
  const a: Capability[] = [];
  const b: Capability[] = [];
  for (const c of caps) {
    const r = rng.next();
    if (r < 0.45) a.push(c);
    else if (r < 0.9) b.push(c);
    else {
      a.push(c);
      b.push(c);
    }
  }
  return [a, b];
}

const pickObject = (scene: Scene, rng: Rng): Entity | null =>
  scene.objects.length ? { type: "object", o: rng.pick(scene.objects) } : null;

const pickEntity = (scene: Scene, rng: Rng, caps: Capability[]): Entity | null => {
  const wordOnly = caps.includes("text_recognition") && !caps.includes("spatial_relationship");
  const wordOk = scene.words.length > 0 && caps.every((c) => OWN.word.includes(c) || c === "spatial_relationship");
  if (wordOnly || (wordOk && rng.bernoulli(0.3)))
    return scene.words.length ? { type: "word", w: rng.pick(scene.words) } : null;
  return pickObject(scene, rng);
};

interface Plan {
  own: Capability[];
  build: (scene: Scene, rest: Capability[], rng: Rng, wantYes: boolean, words: readonly string[]) => Program | null;
}

function filterFor(scene: Scene, rest: Capability[], rng: Rng, objectsOnly: boolean): Ref | null {
  const e = objectsOnly ? pickObject(scene, rng) : pickEntity(scene, rng, rest);
  return e ? describeEntity(scene, e, rest, rng, 0) : null;
}

function query(attribute: QueryAttribute): Plan {
  const own: Capability[] =
    attribute === "partner" ? ["object_interaction", "object_recognition"] : [QUERY_OWN[attribute]];
  return {
    own,
    build: (scene, rest, rng) => {
      let e: Entity | null;
      if (attribute === "text" || (attribute === "color" && rng.bernoulli(0.2)))
        e = scene.words.length ? { type: "word", w: rng.pick(scene.words) } : null;
      else if (attribute === "position") e = pickEntity(scene, rng, rest);
      else e = pickObject(scene, rng);
      const ref = e && describeEntity(scene, e, rest, rng, 0);
      return ref ? { op: "query", attribute, ref } : null;
    },
  };
}
const QUERY_OWN: Record<Exclude<QueryAttribute, "partner">, Capability> = {
  color: "color",
  shape: "shape",
  name: "object_recognition",
  position: "spatial_recognition",
  motion: "action_recognition",
  text: "text_recognition",
};

const PLANS: Plan[] = [
  {
    own: [],
    build: (scene, rest, rng, wantYes, words) => {
      if (!rest.length) return null;
      const f = filterFor(scene, rest, rng, false);
      if (!f) return null;
      return { op: "exists", filter: wantYes ? f : (perturb(f, rng, words) ?? f) };
    },
  },
  {
    own: ["counting"],
    build: (scene, rest, rng) => {
      const f = rest.length ? filterFor(scene, rest, rng, false) : { target: "object" as const, atoms: [] };
      return f ? { op: "count", filter: f } : null;
    },
  },
  ...(["color", "shape"] as const).map(
    (attribute): Plan => ({
      own: [attribute],
      build: (scene, rest, rng) => {
        const [ca, cb] = split(rest, rng);
        const ea = pickObject(scene, rng);
        const eb = pickObject(scene, rng);
        if (!ea || !eb) return null;
        const a = describeEntity(scene, ea, ca, rng, 0);
        const b = describeEntity(scene, eb, cb, rng, 0);
        return a && b ? { op: "same", attribute, a, b } : null;
      },
    }),
  ),
  ...(["color", "shape"] as const).flatMap((attribute): Plan[] => [
    {
      own: ["counting", attribute],
      build: (scene, rest, rng) => {
        const f = rest.length ? filterFor(scene, rest, rng, true) : { target: "object" as const, atoms: [] };
        return f ? { op: "count_distinct", attribute, filter: f } : null;
      },
    },
    {
      own: [attribute],
      build: (scene, rest, rng) => {
        const f = rest.length ? filterFor(scene, rest, rng, true) : { target: "object" as const, atoms: [] };
        return f ? { op: "all_same", attribute, filter: f } : null;
      },
    },
  ]),
  ...(["color", "shape", "name", "position", "motion", "partner", "text"] as const).map(query),
  {
    own: ["action_recognition"],
    build: (scene, rest, rng) => {
      const e = pickObject(scene, rng);
      const ref = e && describeEntity(scene, e, rest, rng, 0);
      return ref ? { op: "is_moving", ref } : null;
    },
  },
  {
    own: ["spatial_relationship"],
    build: (scene, rest, rng) => {
      const [ca, cb] = split(rest, rng);
      const ea = pickEntity(scene, rng, ca);
      const eb = pickEntity(scene, rng, cb);
      if (!ea || !eb) return null;
      const a = describeEntity(scene, ea, ca, rng, 0);
      const b = describeEntity(scene, eb, cb, rng, 0);
      const relation = rng.pick(["left_of", "right_of", "above", "below"] as const);
      return a && b ? { op: "relation", relation, a, b } : null;
    },
  },
  {
    own: ["object_interaction"],
    build: (scene, rest, rng, wantYes) => {
      const ea = pickObject(scene, rng);
      if (ea?.type !== "object") return null;
      const alone = rng.bernoulli(0.3);
      const [ca, cb] = alone ? [rest, []] : split(rest, rng);
      const a = describeEntity(scene, ea, ca, rng, 0);
      if (alone) return a ? { op: "touching", a, b: null } : null;
      const partner = ea.o.touching;
      const others = scene.objects.filter((o) => o !== ea.o);
      if (!others.length) return null;
      const ob = wantYes && partner !== null ? scene.objects[partner] : rng.pick(others);
      const b = describeEntity(scene, { type: "object", o: ob }, cb, rng, 0);
      return a && b ? { op: "touching", a, b } : null;
    },
  },
  {
    own: ["scene_understanding"],
    build: (_scene, rest) => (rest.length ? null : { op: "scene" }),
  },
  {
    own: ["scene_understanding"],
    build: (scene, rest, rng, wantYes, words) => {
      // "no" answers are wrong about the scene half the time and wrong about the condition otherwise.
      const wrongScene = !wantYes && (rest.length === 0 || rng.bernoulli(0.5));
      const place: SceneType = wrongScene
        ? rng.pick(SCENE_TYPES.filter((s) => s !== scene.background))
        : scene.background;
      if (!rest.length) return { op: "is_scene", scene: place, cond: null };
      if (rest.includes("counting")) {
        const f =
          rest.length > 1
            ? filterFor(
                scene,
                rest.filter((c) => c !== "counting"),
                rng,
                true,
              )
            : { target: "object" as const, atoms: [] };
        if (!f) return null;
        const count = countOf(scene, f) + (wantYes || wrongScene ? 0 : rng.pick([-1, 1]));
        return count > 0 ? { op: "is_scene", scene: place, cond: { kind: "count", filter: f, count } } : null;
      }
      const f = filterFor(scene, rest, rng, false);
      if (!f) return null;
      const filter = wantYes || wrongScene ? f : (perturb(f, rng, words) ?? f);
      return { op: "is_scene", scene: place, cond: { kind: "exists", filter } };
    },
  },
];

function countOf(scene: Scene, f: Ref): number {
  return Number(evaluate(scene, { op: "count", filter: f }));
}

/** Validates a capability list: known names, no repeats. */
export function checkCapabilities(caps: readonly string[]): Capability[] {
  const known = new Set<string>(CAPABILITIES);
  for (const c of caps)
    if (!known.has(c)) throw new Error(`unknown capability '${c}'; allowed: ${CAPABILITIES.join(", ")}`);
  if (new Set(caps).size !== caps.length) throw new Error(`repeated capability in [${caps.join(", ")}]`);
  return caps as Capability[];
}

/**
 * A question that needs exactly `capabilities` (k = their number), with its short answer; null
 * when no candidate fits this scene within the attempt budget.
 */
export function composeQuestion(
  scene: Scene,
  capabilities: readonly Capability[],
  rng: Rng,
  options: ComposeOptions = {},
): Question | null {
  const target = checkCapabilities(capabilities);
  if (!target.length) throw new Error("composeQuestion: at least one capability is needed");
  const want = CAPABILITIES.filter((c) => target.includes(c));
  const plans = PLANS.filter((p) => p.own.every((c) => target.includes(c)));
  const attempts = options.attempts ?? 200;
  const words = options.words ?? DEFAULT_WORDS;
  const wantYes = rng.bernoulli(0.5);
  for (let i = 0; i < attempts; i++) {
    const plan = rng.pick(plans);
    // The rest of the set goes to referring expressions, which may also reuse the plan's own.
    const rest = want.filter((c) => !plan.own.includes(c) || rng.bernoulli(0.1));
    const program = plan.build(scene, rest, rng, wantYes, words);
    if (!program) continue;
    const caps = programCapabilities(program);
    if (caps.length !== want.length || caps.some((c, j) => c !== want[j])) continue;
    if (!isWellPosed(scene, program)) continue;
    const answer = evaluate(scene, program)!;
    // Balance yes/no answers: hold out for the wanted answer during most of the budget.
    if (YES_NO.has(program.op) && (answer === "yes") !== wantYes && i < attempts * 0.9) continue;
    const question = printQuestion(program, { rng, synonymRate: options.synonymRate ?? 0 });
    return { question, answer, capabilities: caps, k: caps.length, program };
  }
  return null;
}

/** Every capability set of size k, for sampling combinations. */
export function capabilitySets(k: number): Capability[][] {
  const out: Capability[][] = [];
  const rec = (start: number, acc: Capability[]) => {
    if (acc.length === k) {
      out.push(acc.slice());
      return;
    }
    for (let i = start; i < CAPABILITIES.length; i++) rec(i + 1, [...acc, CAPABILITIES[i]]);
  };
  rec(0, []);
  return out;
}
