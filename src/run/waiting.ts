// A run that waits for a model: a stage that trains a served model hands its training off
// (trainStageModel writes `<stage>/export/`, see src/data/export/handoff.ts) and the run stops.
// `<run>/waiting.json` (and the manifest's `status: "waiting"`) names the stage, its export and
// the commands; rerunning prints the same message and does nothing else. `selfsynth run ...
// --continue-with URL [--continue-model NAME]` gives the trained model as a served one: the runner
// writes the stage's stage.json with that model (its `continuedWith` record: the endpoint, never
// its key), removes waiting.json, and the run goes on from there (the runner: src/run/runner.ts).
//
// A waiting run is no failure: the command exits with WAITING_EXIT_CODE (3), which a script tells
// apart from 0 (finished) and 1 (an error).
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Handoff } from "../data/export/handoff.js";
import { fsyncDir } from "../util/atomic-file.js";
import { readJsonIfExists, writeJsonAtomic } from "./atomic.js";
import type { EndpointModel } from "./recipe.js";

/** The exit code of `selfsynth run` when the run stops waiting for a model. */
export const WAITING_EXIT_CODE = 3;

export const WAITING_FILE = "waiting.json";

export interface WaitingState {
  /** The stage whose model the run waits for. */
  stage: string;
  type: string;
  since: string;
  /** The served model the stage made its data with (its label). */
  inputModel: string;
  /** What the stage wrote and the commands it asks for. */
  handoff: Handoff;
  /** The line the run prints. */
  message: string;
}

/** The served trained model `--continue-with` gives. */
export interface ContinueWith {
  /** An OpenAI-compatible base URL, e.g. http://host:8000/v1. */
  baseUrl: string;
  /** The name it serves the model as (default: the only model it lists). */
  model?: string;
  /** The environment variable holding its API key. */
  apiKeyEnv?: string;
}

/** How stage.json (and the manifest) record the served model that continued a waiting stage. */
export interface Continuation {
  /** The endpoint as a recipe's model.endpoint would name it (the key's variable, never the key). */
  endpoint: EndpointModel;
  at: string;
  /** The hand-off folder it was trained from. */
  export: string;
}

export class ContinueError extends Error {
  override name = "ContinueError";
}

export function waitingMessage(runDir: string, stage: string, guide: string, runCommand: string): string {
  return `run ${runDir}: waiting for stage ${stage}'s model: train it with ${guide}, serve it, then: ${runCommand} --continue-with http://HOST:PORT/v1 [--continue-model NAME]`;
}

export function readWaiting(runDir: string): WaitingState | undefined {
  return readJsonIfExists<WaitingState>(join(runDir, WAITING_FILE));
}

export function writeWaiting(runDir: string, state: WaitingState): void {
  writeJsonAtomic(join(runDir, WAITING_FILE), state);
}

/** Removes waiting.json (durably: the run's state is in stage.json by then). */
export function clearWaiting(runDir: string): void {
  const path = join(runDir, WAITING_FILE);
  if (!existsSync(path)) return;
  rmSync(path);
  fsyncDir(runDir);
}

/** A command-line word, quoted for a POSIX shell when it needs to be. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
