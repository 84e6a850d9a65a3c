// Reference device-side translation cache: sets of ways, least recently used evicted,
// an empty way taken first (lowest index).

interface Line {
  page: number;
  word: bigint;
  lastUse: number;
}

export class ReferenceCache {
  private readonly sets: Array<Array<Line | null>>;
  private clock = 0;
  evictions = 0;

  constructor(entries: number, readonly ways: number) {
    const nsets = entries === 0 ? 0 : entries / ways;
    this.sets = Array.from({ length: nsets }, () => new Array<Line | null>(ways).fill(null));
  }

  get enabled(): boolean {
    return this.sets.length > 0;
  }

  private setOf(page: number): Array<Line | null> {
    return this.sets[page % this.sets.length];
  }

  lookup(page: number): Line | undefined {
    const line = this.setOf(page).find((l) => l !== null && l.page === page);
    if (line) line.lastUse = ++this.clock;
    return line ?? undefined;
  }

  insert(page: number, word: bigint): void {
    const set = this.setOf(page);
    let victim = set.indexOf(null);
    if (victim < 0) {
      victim = 0;
      set.forEach((l, i) => {
        if (l!.lastUse < set[victim]!.lastUse) victim = i;
      });
      this.evictions++;
    }
    set[victim] = { page, word, lastUse: ++this.clock };
  }

  invalidate(page: number): void {
    if (!this.enabled) return;
    const set = this.setOf(page);
    set.forEach((l, i) => {
      if (l !== null && l.page === page) set[i] = null;
    });
  }

  invalidateAll(): void {
    for (const set of this.sets) set.fill(null);
  }

  lines(): Line[] {
    return this.sets.flatMap((set) => set.filter((l): l is Line => l !== null));
  }

  occupancy(): number {
    return this.sets.reduce((n, set) => n + set.filter((l) => l !== null).length, 0);
  }
}
