// COMPACT's teacher (METHODS.md section 5, steps 2 and 4): given an image and k capabilities, it
// writes one question that needs exactly them, a short answer and a confidence; a separate check
// then verifies that the question needs exactly those k capabilities. Two teachers:
//   - the world's composer (this file), standing in for the paper's Gemini on SceneWorld;
//   - any served VLM through the backend, prompted as in the paper (served-teacher.ts).
//
// The world teacher, honestly: it reads the image's exact scene graph (the teacher sees the image
// perfectly) and composes a question program that needs exactly the set (src/world/compose.ts),
// answered from the graph. Its confidence is WORLD_CONFIDENCE (100) for every question it writes:
// the composer has no uncertainty to report, so on SceneWorld the confidence filter never fires
// (as in the released code, which sets every confidence to 90). Where it cannot write a question
// (text recognition without a word in the scene, interaction without touching objects, ...) it
// says so (`not-composable`) instead of inventing one. Its verification is the oracle's exact-k
// check, run again on the returned program: the program's own capabilities equal the set, and the
// program is well posed (every part of it needed: src/world/question-well-posed.ts). The composer
// only returns programs that pass that check, so on SceneWorld verification drops nothing unless
// the composer is wrong; it is a real check of the program, not of the English.
import type { ChatImage } from "../../images/chat-image.js";
import { composeQuestion } from "../../world/compose.js";
import { isWellPosed } from "../../world/question-well-posed.js";
import { type Capability, type Program, programCapabilities } from "../../world/questions.js";
import type { Rng } from "../../world/rng.js";
import type { Scene } from "../../world/scene.js";
import { comboKey } from "./combinations.js";

/** An image the teacher is asked about. */
export interface CompactImage {
  /** The item id (the world record's id). */
  id: string;
  image: ChatImage;
  /** The world record the image comes from (provenance `source`). */
  source: string;
  /** The exact scene graph, for the world teacher (absent for a creature image). */
  scene?: Scene;
}

/** A teacher's question, before the filters. */
export interface Proposal {
  question: string;
  answer: string;
  /** 0-100. */
  confidence: number;
  /** The world teacher's program, which its verification checks. */
  program?: Program;
}

/** Why a teacher gave no question, or a question failed its verification. */
export type TeacherDrop =
  | "not-composable"
  | "no-scene-graph"
  | "malformed-answer"
  | "malformed-verification"
  | "not-verified";

export type Proposed = { ok: true; proposal: Proposal } | { ok: false; reason: TeacherDrop };
export type Verified = { ok: true } | { ok: false; reason: TeacherDrop };

export interface Teacher {
  /** Names the records' maker in their provenance (e.g. "world:composer", "http:model@host"). */
  readonly name: string;
  /** Sampling settings for the records' provenance (served teachers). */
  readonly sampling?: Record<string, number | string | boolean>;
  /** One question needing exactly `capabilities`; `requestId` names the attempt (and seeds it). */
  propose(image: CompactImage, capabilities: readonly Capability[], rng: Rng, requestId: string): Promise<Proposed>;
  /** The separate check that the question needs exactly `capabilities`, no more, no fewer. */
  verify(
    image: CompactImage,
    proposal: Proposal,
    capabilities: readonly Capability[],
    requestId: string,
  ): Promise<Verified>;
  close(): Promise<void>;
}

export const WORLD_TEACHER_NAME = "world:composer";
/** The world teacher's confidence in every question it writes (it answers from the exact graph). */
export const WORLD_CONFIDENCE = 100;

export interface WorldTeacherOptions {
  /** Chance that an object word is replaced by a synonym (the world's language.synonymRate). */
  synonymRate: number;
}

/** Candidate programs the composer tries per question: as the world's own question sets do. */
export const composerAttempts = (k: number) => 40 + 20 * k;

/** The oracle's exact-k check: the program needs exactly the set and every part of it matters. */
export function needsExactly(scene: Scene, program: Program, capabilities: readonly Capability[]): boolean {
  return comboKey(programCapabilities(program)) === comboKey(capabilities) && isWellPosed(scene, program);
}

export function worldTeacher(options: WorldTeacherOptions): Teacher {
  return {
    name: WORLD_TEACHER_NAME,
    async propose(image, capabilities, rng) {
      if (image.scene === undefined) return { ok: false, reason: "no-scene-graph" };
      const q = composeQuestion(image.scene, capabilities, rng, {
        synonymRate: options.synonymRate,
        attempts: composerAttempts(capabilities.length),
      });
      if (q === null) return { ok: false, reason: "not-composable" };
      return {
        ok: true,
        proposal: { question: q.question, answer: q.answer, confidence: WORLD_CONFIDENCE, program: q.program },
      };
    },
    async verify(image, proposal, capabilities) {
      const ok =
        image.scene !== undefined &&
        proposal.program !== undefined &&
        needsExactly(image.scene, proposal.program, capabilities);
      return ok ? { ok: true } : { ok: false, reason: "not-verified" };
    },
    async close() {},
  };
}
