// `iommu-sim serve`: the package over HTTP on 127.0.0.1, for the demo page.

import type { Command } from "commander";
import { PACKAGE_ROOT } from "./options.js";

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("Serve the package on 127.0.0.1 for the demo page (web/index.html)")
    .option("--port <n>", "port (default: any free one)", "0")
    .action(async (flags: { port: string }) => {
      const { serve } = await import("../io/static-server.js");
      const root = decodeURIComponent(PACKAGE_ROOT.pathname).replace(/\/$/, "");
      const s = await serve(root, Number(flags.port));
      process.stdout.write(`demo page: ${s.url}/web/index.html (Ctrl-C to stop)\n`);
    });
}
