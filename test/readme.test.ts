// The README tells the truth about its commands. Every shell line of its ```sh blocks is run as a
// reader would paste it (from a directory that mirrors the checkout, so the files a command
// writes land there) and must exit 0; the usage synopses (`iommu-sim CMD [--opt …]`) and every
// command or option quoted in the text must name options that the command's --help lists.
// Nothing here names a particular command: a line added to the README is covered as it lands.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");
const run = promisify(execFile);

interface Block {
  lang: string;
  lines: string[];
}

/** Fenced code blocks; a shell line continued with a trailing backslash is joined, `# comments` dropped. */
function codeBlocks(md: string): Block[] {
  const blocks: Block[] = [];
  for (const m of md.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)) {
    const lines = m[2].replace(/\\\n\s*/g, " ").split("\n").map((l) => l.replace(/(^|\s)#\s.*$/, "").trim()).filter(Boolean);
    blocks.push({ lang: m[1], lines });
  }
  return blocks;
}

/** Inline code spans of the prose (outside fenced blocks), a span broken across lines joined. */
function inlineSpans(md: string): string[] {
  const prose = md.replace(/^```\w*\n[\s\S]*?^```/gm, "");
  return [...prose.matchAll(/`([^`]+)`/g)].map((m) => m[1].replace(/\s+/g, " ").trim());
}

const shellBlocks = codeBlocks(readme).filter((b) => b.lang === "sh" || b.lang === "bash");
const [opening, ...rest] = shellBlocks;
/** `iommu-sim …` lines are usage synopses (placeholders, [optional] parts, a|b choices), not commands. */
const isSynopsis = (line: string) => /^(npx )?iommu-sim\s/.test(line);
/**
 * Lines that start a server and run until it is stopped; what they serve is tested elsewhere
 * (`serve`: the demo page, test/browser.test.ts).
 */
const startsServer = (line: string) => /^(npx iommu-sim|iommu-sim|node lib\/cli\.js) serve\b/.test(line);
/**
 * The opening lines' `npm ci` and `npm test` cannot run inside this test (see the first test
 * below); what else they chain with && runs like any other line.
 */
const openingRest = opening.lines.flatMap((l) => l.split("&&").map((c) => c.trim())).filter((c) => c !== "npm ci" && c !== "npm test");
const runnable = [...new Set([...openingRest, ...rest.flatMap((b) => b.lines)].filter((l) => !isSynopsis(l) && !startsServer(l)))];

/** The words after the program in a span that invokes the CLI ("run --json" → ["run", "--json"]), if it does. */
function cliWords(span: string): string[] | undefined {
  return /^(?:npx iommu-sim|iommu-sim|node lib\/cli\.js)\s+(.*)$/.exec(span)?.[1].split(/\s+/);
}
const flagsIn = (text: string) => [...text.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]);

// Options of other tools the README quotes in passing (the AssemblyScript compiler's, in "How the WASM is loaded").
const OTHER_TOOLS_FLAGS = new Set(["--runtime", "--bindings"]);

describe("README commands", () => {
  let dir: string;
  const help = new Map<string, Set<string>>();

  beforeAll(async () => {
    // a directory that mirrors the checkout through links, so commands run as from the checkout
    // while the files they write (--plot, --csv, …) land in it, not in the working tree
    dir = mkdtempSync(join(tmpdir(), "iommu-sim-readme-"));
    for (const name of readdirSync(root)) if (name !== ".git" && name !== "test-output") symlinkSync(join(root, name), join(dir, name));
    // every command's options, subcommands included ("trace generate"), keyed by the command's words
    const learn = async (words: string[]): Promise<void> => {
      const text = (await run(process.execPath, ["lib/cli.js", ...words, "--help"], { cwd: root })).stdout;
      const [own, commands = ""] = text.split(/^Commands:$/m);
      help.set(words.join(" "), new Set(flagsIn(own)));
      for (const [, sub] of commands.matchAll(/^ {2}([a-z][\w-]*)/gm)) if (sub !== "help") await learn([...words, sub]);
    };
    await learn([]);
  });

  /** The options of the command a span invokes (its longest run of words that names one), if it invokes one. */
  function optionsOf(span: string): { command: string; known: Set<string> | undefined } | undefined {
    const words = cliWords(span);
    if (!words) return undefined;
    for (let n = words.length; n > 0; n--) {
      const command = words.slice(0, n).join(" ");
      if (help.has(command)) return { command, known: help.get(command) };
    }
    return words[0].startsWith("-") ? { command: "", known: help.get("") } : { command: words[0], known: undefined };
  }

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("opens with the two set-up commands; CI runs the test one verbatim, and npm ci's lockfile is in sync", async () => {
    expect(opening.lines).toEqual(["npm ci && npm start", "npm ci && npm test"]);
    // `npm test` cannot run inside itself, and a real `npm ci` would replace the node_modules
    // this run is using: CI runs the line as written, and `npm ci --dry-run` checks that the
    // lockfile matches package.json (what makes `npm ci` refuse); `npm start` runs below.
    const ci = readFileSync(join(root, ".ci", "run"), "utf8").split("\n").map((l) => l.trim());
    expect(ci).toContain(opening.lines[1]);
    await run("npm", ["ci", "--dry-run", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: root, timeout: 60_000 });
  });

  it("has commands to run", () => {
    expect(runnable.length).toBeGreaterThan(3);
  });

  it.each(runnable)("%s", async (line) => {
    // files the command names as outputs must appear
    const outputs = line.split(/\s+/).filter((t) => /\.(svg|html|csv|json|png)$/.test(t) && !existsSync(join(dir, t)));
    const { stdout } = await run("sh", ["-c", line], { cwd: dir, timeout: 120_000, maxBuffer: 64 << 20 }).catch((e) => {
      throw new Error(`\`${line}\` failed (exit ${e.code}):\n${e.stdout}\n${e.stderr}`);
    });
    expect(stdout.length > 0 || outputs.length > 0, "prints something or writes a file").toBe(true);
    for (const f of outputs) expect(statSync(join(dir, f)).size, f).toBeGreaterThan(0);
  });

  it("every option in a synopsis or a quoted command is one its command's --help lists", () => {
    // a pipeline's commands each on their own
    const spans = [...shellBlocks.flatMap((b) => b.lines), ...inlineSpans(readme)].flatMap((s) => s.split(/\s+\|\s+/));
    const wrong: string[] = [];
    let checked = 0;
    for (const span of spans) {
      const invoked = optionsOf(span);
      if (invoked === undefined) continue;
      const { command, known } = invoked;
      if (!known) {
        wrong.push(`${span}: no command "${command}"`);
        continue;
      }
      for (const flag of flagsIn(span)) {
        checked++;
        if (!known.has(flag)) wrong.push(`${span}: ${command} has no ${flag}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });

  it("every option quoted on its own is one some command's --help lists", () => {
    const all = new Set([...help.values()].flatMap((s) => [...s]));
    const wrong = inlineSpans(readme)
      .filter((s) => s.startsWith("--"))
      .flatMap(flagsIn)
      .filter((f) => !all.has(f) && !OTHER_TOOLS_FLAGS.has(f));
    expect(wrong).toEqual([]);
  });
});

describe("README JavaScript examples", () => {
  // Snippets for a bundler (an asset URL from import.meta.url or an imported .wasm) are built and
  // run in Chromium by test/package.test.ts; the rest run in Node from the checkout, where
  // "iommu-sim" resolves to this package by its own name.
  const forBundler = (code: string) => /import\.meta\.url|\.wasm"/.test(code);
  const snippets = [...readme.matchAll(/^```js\n([\s\S]*?)^```/gm)].map((m) => m[1]).filter((code) => !forBundler(code));

  it("has examples to run", () => {
    expect(snippets.length).toBeGreaterThan(0);
  });

  it.each(snippets.map((code) => [code.split("\n").find((l) => l && !l.startsWith("import")) ?? code, code]))("%s", async (_, code) => {
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", code], { cwd: root, timeout: 60_000 }).catch((e) => {
      throw new Error(`failed:\n${code}\n${e.stdout}\n${e.stderr}`);
    });
    // what a console.log line's comment says it prints (`// { name: value, ... }`), it prints
    for (const [, shown] of code.matchAll(/console\.log\(.*\);\s*\/\/\s*\{(.*)\}/g)) {
      for (const [, name, value] of shown.matchAll(/(\w+): ([^,\s}]+)/g)) expect(stdout).toMatch(new RegExp(`\\b${name}: ${value}\\b`));
    }
  });
});
