// The built-in methods, one registration line each: a method's stage kinds (what a recipe's
// stages name) and inference modes (how evaluation may ask a model). The CLI calls this once at
// start; tests that need the registrations call it too. Calling it again changes nothing.
import { registerBpo } from "./bpo/index.js";
import { registerCompact } from "./compact/index.js";
import { registerCsr } from "./csr/index.js";
import { registerStic } from "./stic/index.js";
import { registerSts } from "./sts/index.js";
import { registerSupervised } from "./supervised/index.js";

export function registerBuiltinMethods(): void {
  registerStic();
  registerSupervised();
  registerBpo();
  registerCompact();
  registerCsr();
  registerSts();
}
