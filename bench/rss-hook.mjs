// Preloaded (node --import) into a CLI process the replay bench runs: reports the process's peak
// resident set size on stderr when it exits, so the bench needs no system `time`.
process.on("exit", () => process.stderr.write(`maxrss-kib ${process.resourceUsage().maxRSS}\n`));
