// Benchmarks: `npm run bench -- <name> [options]`. See bench/README.md for figures and commands.
//   engine: the reference decoder, selfsynth vs PyTorch eager (bench/reference_engine.py)
//   vlm:    the default VLM, selfsynth vs PyTorch eager (bench/reference_vlm.py)
// Each runs several rounds per thread count, alternating the two sides, and reports medians.
import { Command } from "commander";
import { registerBatchBench } from "./batch.js";
import { registerCsrBench } from "./csr.js";
import { measureReference, measureSelfsynth } from "./engine.js";
import { registerGemmBench } from "./gemm.js";
import { runRounds } from "./protocol.js";
import { registerServeBench } from "./serve.js";
import { measureVlm, measureVlmReference } from "./vlm.js";

const program = new Command().name("bench");

interface Options {
  threads: string;
  rounds: string;
  trainSteps: string;
  sampleReps: string;
  reference: boolean;
  json?: boolean;
}

function addCommand(
  name: string,
  description: string,
  ours: (threads: number, steps: number, reps: number) => ReturnType<typeof measureSelfsynth>,
  reference: typeof measureReference,
): void {
  program
    .command(name)
    .description(description)
    .option("--threads <list>", "thread counts, comma-separated", "1,2")
    .option("--rounds <n>", "rounds per thread count, alternating selfsynth and PyTorch", "3")
    .option("--train-steps <n>", "timed training steps", "30")
    .option("--sample-reps <n>", "timed generations", "3")
    .option("--no-reference", "skip PyTorch (when python3-torch is not installed)")
    .option("--json", "end with one JSON line")
    .action((o: Options) => {
      const steps = Number(o.trainSteps);
      const reps = Number(o.sampleReps);
      const summary = runRounds({
        name,
        threads: o.threads.split(",").map(Number),
        rounds: Number(o.rounds),
        ours: (threads) => ours(threads, steps, reps),
        reference: o.reference ? (threads) => reference(threads, steps, reps) : null,
      });
      console.error(`${name}: BLAS ${summary.blas_library} (core ${summary.blas_core})`);
      console.error(`${name}: reference BLAS ${summary.reference_blas}`);
      if (o.json) console.log(JSON.stringify(summary));
    });
}

addCommand(
  "engine",
  "train and sample the reference decoder in selfsynth and in PyTorch eager, side by side",
  measureSelfsynth,
  measureReference,
);
addCommand(
  "vlm",
  "train and sample the default VLM in selfsynth and in PyTorch eager, side by side",
  measureVlm,
  measureVlmReference,
);
registerServeBench(program);
registerGemmBench(program);
registerBatchBench(program);
registerCsrBench(program);

program.parseAsync(process.argv);
