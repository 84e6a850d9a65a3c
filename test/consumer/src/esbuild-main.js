// esbuild does not rewrite new URL(…, import.meta.url); its file loader (--loader:.wasm=file)
// copies the imported asset next to the bundle and gives its path, relative to the bundle.
import wasmPath from "iommu-sim/iommu.wasm";
import { show } from "./app.js";

show(new URL(wasmPath, import.meta.url));
