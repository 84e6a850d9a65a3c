// Node users: the whole API from the package root, the reference model from its subpath.
import { ConfigError, createIommu, type Iommu } from "iommu-sim";
import { createReferenceIommu } from "iommu-sim/reference";

const io: Iommu = createIommu({ platform: "calgary-pcix" });
const dma: number | null = io.mapSingle(0x7_0000_0234, 0x2000, "from-device");
if (dma !== null) io.unmapSingle(dma, 0x2000);
export const outcome: "hit" | "miss" | "stale" | "fault" = io.deviceAccess(0x20234, 64, "write");
export const reference: Iommu = createReferenceIommu({ platform: "dart-u3" });
export const refused: string = new ConfigError("tableSize", "3M", "64K … 8M").field;
