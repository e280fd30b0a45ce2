// What a command needs of a backend, checked against its capabilities before any work.
import assert from "node:assert/strict";
import { test } from "node:test";
import { needChecks, requireServes } from "../../src/backends/needs.js";
import {
  type BackendCapabilities,
  BackendCapabilityError,
  type VisionLanguageModel,
} from "../../src/backends/types.js";

const textOnly: BackendCapabilities = {
  maxSamplesPerRequest: 1,
  generationLogprobs: true,
  scoring: false,
  maxImagesPerRequest: 0,
};

const backend = (capabilities: BackendCapabilities) =>
  ({ name: "fake:caps", capabilities: async () => capabilities }) as unknown as VisionLanguageModel;

test("one check per need asked for", () => {
  assert.deepEqual(needChecks({}), []);
  assert.deepEqual(
    needChecks({ images: 2, scoring: true, generationLogprobs: true }).map((c) => [c.feature, c.ok(textOnly)]),
    [
      ["maxImagesPerRequest", false],
      ["scoring", false],
      ["generationLogprobs", true],
    ],
  );
});

test("requireServes names the backend and every need it lacks", async () => {
  await requireServes(backend(textOnly), { generationLogprobs: true });
  await assert.rejects(
    requireServes(backend(textOnly), { images: 1, scoring: true }),
    (e) =>
      e instanceof BackendCapabilityError &&
      e.message === "fake:caps does not serve 1 image(s) per request, teacher-forced scoring (prompt_logprobs)",
  );
});
