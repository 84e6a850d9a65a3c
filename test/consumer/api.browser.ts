// Browser code: compile the core from a URL, then create IOMMUs on it.
import { createIommuWith, loadIommuModule, putMap, DIR, type Iommu } from "iommu-sim";

export async function start(wasm: URL): Promise<Iommu> {
  const io = createIommuWith(await loadIommuModule(wasm), { platform: "dart-u4" });
  io.batch.run(putMap(io.batch.ops, 0, 0, 0x1000, 64, DIR.toDevice));
  return io;
}
