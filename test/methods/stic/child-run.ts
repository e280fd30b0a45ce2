// The child process of the STIC kill test: runs a recipe with the STIC stage kinds and the real
// deps (embedded backend, world benches), progress output discarded.
// Usage: node --import tsx test/methods/stic/child-run.ts <recipe> <out>
import { registerBuiltinMethods } from "../../../src/methods/index.js";
import { runRecipe } from "../../../src/run/runner.js";
import { quietDeps } from "./stage-fixtures.js";

registerBuiltinMethods();
const [recipePath, out] = process.argv.slice(2);
await runRecipe({ recipePath, out, deps: quietDeps() });
