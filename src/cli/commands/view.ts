// `selfsynth view DATA [--host 127.0.0.1] [--port N]`: a local web page over a stage's data
// folder or an export folder (src/report/view): page through its records, filter them, see
// their images with both sides. Prints the URL; Ctrl-C stops it.
import type { Command } from "commander";
import { intAtLeast } from "../options.js";

interface ViewOptions {
  host: string;
  port: number;
}

/** Resolves when the viewer should stop: the first SIGINT or SIGTERM (a second one exits at once). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      process.once("SIGINT", () => process.exit(130));
      resolve(signal);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

export function registerView(
  program: Command,
  print: (line: string) => void = console.log,
  until: () => Promise<unknown> = untilSignal,
): Command {
  return program
    .command("view")
    .description("browse a data folder's records, drops and images in a local web page (filters, paging)")
    .argument("<data>", "a stage's data folder (runs/<run>/stages/<stage>/data) or a `selfsynth export` folder")
    .option("--host <host>", "address to listen on (anything but loopback exposes the data)", "127.0.0.1")
    .option("--port <n>", "port to listen on (0: any free port)", intAtLeast(0), 0)
    .action(async (data: string, options: ViewOptions) => {
      const { startViewServer } = await import("../../report/view/server.js");
      const server = await startViewServer({ data, host: options.host, port: options.port });
      print(server.url);
      print(`selfsynth view: ${server.root} (Ctrl-C to stop)`);
      await until();
      await server.close();
    });
}
