#!/usr/bin/env node
// `npm run test:cluster`: a real single-node Slurm cluster on this machine (Debian's slurm-wlm and
// munge; munged, slurmctld and slurmd started directly as root, no systemd, every file under a
// temporary directory), a sharded sweep, allocator comparison and replay grid submitted through
// `iommu-sim slurm … --submit`, and their merged outputs held byte for byte to the serial runs.
// One shard is then deleted, resubmitted alone (`sbatch --array=K`) and merged again. The daemons
// are stopped at the end, on failure and on Ctrl-C. Needs root and: apt-get install -y slurm-wlm munge
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, hostname, tmpdir, totalmem } from "node:os";
import { delimiter, join } from "node:path";
import { randomBytes } from "node:crypto";

const ROOT = join(import.meta.dirname, "..", "..");
const CLI = join(ROOT, "lib", "cli.js");
const TIMEOUT_MS = Number(process.env.CLUSTER_TEST_TIMEOUT_MS ?? 300_000);
const started = Date.now();

function fail(message) {
  process.stderr.write(`test:cluster FAILED: ${message}\n`);
  process.exitCode = 1;
  throw new Error(message);
}
const log = (s) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${s}\n`);

// --- what it needs, said loudly before anything starts
if (process.getuid?.() !== 0) {
  process.stderr.write("test:cluster FAILED: it must run as root (it starts munged, slurmctld and slurmd); run: sudo npm run test:cluster\n");
  process.exit(1);
}
const PATHS = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/sbin"];
function which(name) {
  for (const d of PATHS) {
    try {
      accessSync(join(d, name), constants.X_OK);
      return join(d, name);
    } catch {}
  }
  return undefined;
}
const TOOLS = ["munged", "slurmctld", "slurmd", "sbatch", "sinfo", "scontrol"];
const missing = TOOLS.filter((t) => !which(t));
if (missing.length > 0) {
  process.stderr.write(`test:cluster FAILED: ${missing.join(", ")} not found; install: apt-get update && apt-get install -y --no-install-recommends slurm-wlm munge\n`);
  process.exit(1);
}
const bin = Object.fromEntries(TOOLS.map((t) => [t, which(t)]));

// --- the cluster's files, all under one temporary directory
const dir = mkdtempSync(join(tmpdir(), "iommu-sim-cluster-"));
chmodSync(dir, 0o755); // munged checks that its socket's and key's directories are not writable by others
const mungeDir = join(dir, "munge");
for (const d of [mungeDir, join(dir, "state"), join(dir, "spool"), join(dir, "jobs")]) mkdirSync(d, { recursive: true, mode: 0o755 });
const key = join(mungeDir, "munge.key");
writeFileSync(key, randomBytes(1024), { mode: 0o400 });
const socket = join(mungeDir, "munge.socket");

function nodeLine(host) {
  // slurmd's own view of the machine, so the node is not drained for claiming more than it has
  const r = spawnSync(bin.slurmd, ["-C"], { encoding: "utf8" });
  const line = r.status === 0 ? r.stdout.split("\n").find((l) => l.startsWith("NodeName=")) : undefined;
  const own = line ?? `NodeName=${host} CPUs=${availableParallelism()} RealMemory=${Math.floor(totalmem() / 2 ** 20)}`;
  return `${own.replace(/^NodeName=\S+/, `NodeName=${host}`)} NodeAddr=127.0.0.1 State=UNKNOWN`;
}
const host = hostname().split(".")[0];
const conf = join(dir, "slurm.conf");
writeFileSync(conf, [
  "ClusterName=iommusim",
  `SlurmctldHost=${host}(127.0.0.1)`,
  "SlurmUser=root",
  "SlurmdUser=root",
  "SlurmctldPort=46817",
  "SlurmdPort=46818",
  "AuthType=auth/munge",
  "CredType=cred/munge",
  `AuthInfo=socket=${socket}`,
  `StateSaveLocation=${join(dir, "state")}`,
  `SlurmdSpoolDir=${join(dir, "spool")}`,
  `SlurmctldPidFile=${join(dir, "slurmctld.pid")}`,
  `SlurmdPidFile=${join(dir, "slurmd.pid")}`,
  `SlurmctldLogFile=${join(dir, "slurmctld.log")}`,
  `SlurmdLogFile=${join(dir, "slurmd.log")}`,
  "ProctrackType=proctrack/linuxproc",
  "TaskPlugin=task/none",
  "JobAcctGatherType=jobacct_gather/none",
  "AccountingStorageType=accounting_storage/none",
  "SelectType=select/cons_tres",
  "SelectTypeParameters=CR_CPU",
  "SchedulerType=sched/backfill",
  "MpiDefault=none",
  "ReturnToService=2",
  "SlurmctldTimeout=30",
  "SlurmdTimeout=30",
  "MinJobAge=600",
  nodeLine(host),
  "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
  "",
].join("\n"));
const env = { ...process.env, SLURM_CONF: conf, PATH: [...new Set(PATHS)].join(delimiter) };

// --- the daemons, in the foreground of child processes this script owns
const daemons = [];
function start(name, args) {
  const out = join(dir, `${name}.out`);
  const child = spawn(bin[name], args, { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  child.on("exit", (code, signal) => {
    if (!stopping) log(`${name} exited (${code ?? signal}): ${stderr.trim()}`);
    writeFileSync(out, stderr);
  });
  daemons.push({ name, child });
}
let stopping = false;
function stopDaemons() {
  if (stopping) return;
  stopping = true;
  for (const { child } of [...daemons].reverse()) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
}
async function waitExits() {
  const deadline = Date.now() + 15_000;
  for (const { child } of daemons) {
    while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) await sleep(100);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    stopDaemons();
    process.exit(130);
  });
}
process.once("exit", stopDaemons);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, check, timeout = TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) fail(`timed out waiting for ${what}; logs in ${dir}:\n${tail("slurmctld.log")}\n${tail("slurmd.log")}`);
    await sleep(250);
  }
}
const tail = (f) => (existsSync(join(dir, f)) ? `--- ${f}\n${readFileSync(join(dir, f), "utf8").split("\n").slice(-25).join("\n")}` : `(no ${f})`);
// every command runs in the cluster's directory: the jobs run where they were submitted from
const run = (cmd, args) => execFileSync(cmd, args, { env, cwd: dir, encoding: "utf8", maxBuffer: 64 << 20 });
const cli = (...args) => run(process.execPath, [CLI, ...args]);

function jobState(id) {
  const r = spawnSync(bin.scontrol, ["show", "job", "-o", id], { env, encoding: "utf8" });
  return /JobState=(\S+)/.exec(r.stdout)?.[1];
}
async function waitJob(id, name) {
  const state = await until(`job ${id} (${name}) to end`, () => {
    const s = jobState(id);
    return s && !["PENDING", "RUNNING", "CONFIGURING", "COMPLETING"].includes(s) ? s : undefined;
  });
  if (state !== "COMPLETED") fail(`job ${id} (${name}) ended ${state}; logs in ${dir}`);
  return state;
}

function sameBytes(what, got, want) {
  if (Buffer.compare(Buffer.from(got), Buffer.from(want)) !== 0) fail(`${what}: the merged output differs from the serial run's`);
  log(`${what}: merged = serial, byte for byte (${Buffer.byteLength(want)} bytes)`);
}

/** Submits `slurm COMMAND … --submit`, waits for the merge job, returns the job directory. */
async function submitted(command, args, shards) {
  const jobDir = join(dir, "jobs", command);
  const out = cli("slurm", command, ...args, "--shards", String(shards), "--dir", jobDir, "--submit");
  process.stdout.write(out);
  const array = /^shards: job (\d+)/m.exec(out)?.[1];
  const merge = /^merge: job (\d+)/m.exec(out)?.[1];
  if (!array || !merge) fail(`slurm ${command} --submit printed no job ids:\n${out}`);
  await waitJob(merge, `${command} merge`);
  for (let k = 0; k < shards; k++) if (jobState(`${array}_${k}`) !== "COMPLETED") fail(`shard ${k} (job ${array}_${k}) did not complete`);
  log(`${command}: ${shards} shards (job ${array}) and the merge (job ${merge}) completed`);
  return jobDir;
}

let ok = false;
try {
  log(`cluster files in ${dir}`);
  start("munged", ["-F", "--force", `--key-file=${key}`, `--socket=${socket}`, `--pid-file=${join(mungeDir, "munged.pid")}`, `--log-file=${join(dir, "munged.log")}`, `--seed-file=${join(mungeDir, "munged.seed")}`]);
  await until("munged's socket", () => existsSync(socket), 20_000);
  start("slurmctld", ["-D", "-i", "-f", conf]);
  start("slurmd", ["-D", "-f", conf]);
  await until("the node to be idle (sinfo)", () => spawnSync(bin.sinfo, ["-h", "-N", "-o", "%T"], { env, encoding: "utf8" }).stdout.trim() === "idle", 60_000);
  log("node idle");

  // a sweep across three axes (18 configurations) in 4 shards, printed as a table and as CSV
  const grid = ["--grid", "strategy=straightforward,batched,cached", "--grid", "messageBytes=64,1024,65536", "--grid", "environment=baremetal,xen-dom0"];
  const serialTable = cli("sweep", ...grid, "--serial", "--quiet", "--csv", join(dir, "serial.csv"));
  const sweepDir = await submitted("sweep", [...grid, "--csv", join(dir, "merged.csv")], 4);
  sameBytes("sweep table", readFileSync(join(sweepDir, "result.txt")), serialTable);
  sameBytes("sweep --csv", readFileSync(join(dir, "merged.csv")), readFileSync(join(dir, "serial.csv")));

  // the allocator comparison with a trace (workload and trace rows) in 5 shards, as JSON
  const alloc = ["--workload", "ring:64", "--workload", "storage:8", "--steps", "2000", "--trace", join(ROOT, "examples", "nic-ring.trace"), "--json"];
  const serialAlloc = cli("allocators", ...alloc, "--quiet");
  const allocDir = await submitted("allocators", alloc, 5);
  sameBytes("allocators --json", readFileSync(join(allocDir, "result.json")), serialAlloc);

  // two traces (text, binary) × platforms × allocators, named relative to the submit directory, in 4 shards, as JSON and CSV
  cli("trace", "generate", "--workload", "storage-sg:16", "--ops", "20000", "-o", "sg.trace");
  cli("trace", "generate", "--workload", "ring:256", "--ops", "50000", "--format", "binary", "-o", "ring.bin");
  const replay = ["sg.trace", "ring.bin", "--grid", "platform=calgary-pcix,dart-u3", "--grid", "allocator=iova,first-fit", "--json"];
  const serialReplay = cli("replay", ...replay, "--quiet", "--csv", "serial-replay.csv");
  const replayDir = await submitted("replay", [...replay, "--csv", "merged-replay.csv"], 4);
  sameBytes("replay grid --json", readFileSync(join(replayDir, "result.json")), serialReplay);
  sameBytes("replay grid --csv", readFileSync(join(dir, "merged-replay.csv")), readFileSync(join(dir, "serial-replay.csv")));

  // a lost shard, resubmitted alone as the scripts say, and merged again
  rmSync(join(sweepDir, "parts", "part-2.json"));
  rmSync(join(sweepDir, "result.txt"));
  const again = run(bin.sbatch, ["--parsable", "--array=2", join(sweepDir, "shards.sh")]).trim().split(";")[0];
  const remerge = run(bin.sbatch, ["--parsable", `--dependency=afterok:${again}`, join(sweepDir, "merge.sh")]).trim().split(";")[0];
  await waitJob(remerge, "merge after shard 2 resubmitted");
  sameBytes("sweep table, shard 2 resubmitted alone", readFileSync(join(sweepDir, "result.txt")), serialTable);
  ok = true;
} finally {
  stopDaemons();
  await waitExits();
  if (ok) rmSync(dir, { recursive: true, force: true });
  else process.stderr.write(`test:cluster: the cluster's files and logs are kept in ${dir}\n`);
}
log(`test:cluster passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
