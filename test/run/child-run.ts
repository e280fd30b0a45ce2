// The child process of the kill test: runs a recipe with the test stage kinds and fake deps.
// Usage: node --import tsx test/run/child-run.ts <recipe> <out>
import { runRecipe } from "../../src/run/runner.js";
import { fakeDeps, registerTestKinds } from "./kinds.js";

registerTestKinds();
const [recipePath, out] = process.argv.slice(2);
await runRecipe({ recipePath, out, deps: fakeDeps() });
