// A deterministic random native-format trace: maps, sg maps, coherent allocations, unmaps in
// random order, and device accesses (some after unmap); with `cpus` > 1, `cpu N` switches too. Seeded xorshift, no dependencies.
// With `maxPfn`, buffers lie anywhere below that page (the platform's whole legal range: Calgary
// 2^36 − 1, DART 2^24 − 1) and a few reach past it, so replay must refuse them.

export function randomTrace(ops: number, seed: number, cpus = 1, maxPfn?: number): string {
  let s = seed >>> 0 || 1;
  const rnd = (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
  const dirs = ["to-device", "from-device", "bidirectional"];
  const live: Array<{ id: string; kind: string }> = [];
  const dead: string[] = [];
  const lines = [`# random trace, ${ops} operations, seed ${seed}`];
  let next = 0;
  /** Uniform below n (up to 2^52) from two draws. */
  const wide = (n: number) => (n <= 2 ** 31 ? rnd(n) : (rnd(2 ** 20) * 2 ** 32 + rnd(2 ** 31) * 2 + rnd(2)) % n);
  const phys = () => {
    if (maxPfn === undefined) return (0x100000 + rnd(0x400000)) * 4096 + rnd(4096);
    const pfn = rnd(50) === 0 ? maxPfn - rnd(70) : wide(maxPfn - 70);
    return pfn * 4096 + rnd(4096);
  };
  const size = () => (rnd(10) < 8 ? 1 + rnd(9000) : 1 + rnd(64 * 4096));
  for (let i = 0; i < ops; i++) {
    if (cpus > 1 && rnd(20) === 0) lines.push(`cpu ${rnd(cpus)}`);
    const r = rnd(100);
    if (r < 35 || live.length === 0) {
      const id = `m${next++}`;
      lines.push(`map ${id} ${phys().toString(16)} ${size()} ${dirs[rnd(3)]}`);
      live.push({ id, kind: "map" });
    } else if (r < 42) {
      const id = `s${next++}`;
      const segs = Array.from({ length: 1 + rnd(5) }, () => `${phys().toString(16)}:${size()}`);
      lines.push(`map_sg ${id} ${dirs[rnd(3)]} ${segs.join(" ")}`);
      live.push({ id, kind: "sg" });
    } else if (r < 45) {
      const id = `c${next++}`;
      lines.push(`alloc ${id} ${1 + rnd(65536)}`);
      live.push({ id, kind: "alloc" });
    } else if (r < 85) {
      const [x] = live.splice(rnd(live.length), 1);
      lines.push(`${x.kind === "map" ? "unmap" : x.kind === "sg" ? "unmap_sg" : "free"} ${x.id}`);
      if (x.kind === "map") dead.push(x.id);
    } else if (r < 95) {
      const x = live[rnd(live.length)];
      if (x.kind === "map") lines.push(`access ${x.id} 0 1 ${rnd(2) ? "read" : "write"}`);
      else lines.push(`# (no access to ${x.id})`);
    } else if (dead.length > 0) {
      lines.push(`access ${dead[rnd(dead.length)]} 0 1 ${rnd(2) ? "read" : "write"}`);
    } else {
      lines.push("# nothing");
    }
  }
  return lines.join("\n") + "\n";
}
