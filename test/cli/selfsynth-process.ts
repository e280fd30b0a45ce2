// `selfsynth` commands as their own processes, for tests that need real ones: a `selfsynth serve`
// on a free port (an endpoint that behaves as a deployed server does), and `selfsynth run` (its
// exit codes are the real ones: 3 for a run that waits for a model).
import { type ChildProcess, spawn } from "node:child_process";

export interface ServeProcess {
  /** The base URL, with /v1. */
  url: string;
  /** Ends the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts `selfsynth serve --model DIR` on a free port, serving the model as `name` (default: the
 * folder) with `threads` libtorch threads (default 1); resolves once it listens.
 */
export function startServe(modelDir: string, options: { name?: string; threads?: number } = {}): Promise<ServeProcess> {
  const args = ["--import", "tsx", "src/cli/main.ts", "serve", "--model", modelDir, "--port", "0"];
  args.push("--threads", String(options.threads ?? 1));
  if (options.name !== undefined) args.push("--served-model-name", options.name);
  const serve: ChildProcess = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (serve.exitCode !== null || serve.signalCode !== null) return resolve();
      serve.once("exit", () => resolve());
      serve.kill("SIGTERM");
    });
  return new Promise((resolve, reject) => {
    let err = "";
    serve.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
      const m = /at (http:\/\/\S+\/v1)/.exec(err);
      if (m) resolve({ url: m[1], stop });
    });
    serve.once("exit", (code) => reject(new Error(`selfsynth serve exited (${code}): ${err}`)));
  });
}

/** `selfsynth run ARGS` as its own process: its exit code and output. */
export function selfsynthRun(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "run", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}
