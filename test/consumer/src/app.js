// What a web app embedding iommu-sim does: compile the core from the URL (or bytes) it is
// given, create an IOMMU and run one batch of maps, accesses and unmaps.
import { createIommuWith, DIR, loadIommuModule, putAccess, putMap, putUnmap } from "iommu-sim";

export async function runBatch(wasm) {
  const io = createIommuWith(await loadIommuModule(wasm), { platform: "calgary-pcix", tableSize: "64K" });
  const { ops } = io.batch;
  let n = 0;
  for (let h = 0; h < 64; h++) n = putMap(ops, n, h, 0x1000_0000 + h * 0x1800, 3000 + h, DIR.fromDevice);
  for (let h = 0; h < 64; h += 2) n = putUnmap(ops, n, h);
  for (let h = 0; h < 64; h += 4) n = putAccess(ops, n, h, 0, 64, true);
  io.batch.run(n);
  return { results: Array.from(io.batch.results.subarray(0, n)), stats: io.stats() };
}

export async function show(wasm) {
  const out = document.getElementById("result");
  try {
    out.textContent = JSON.stringify(await runBatch(wasm));
  } catch (e) {
    out.textContent = `error: ${e}`;
  }
}
