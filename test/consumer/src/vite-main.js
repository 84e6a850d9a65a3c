// Vite (and webpack 5, Rollup with its asset plugin) turn this URL into the emitted asset's URL.
import { show } from "./app.js";

show(new URL("iommu-sim/iommu.wasm", import.meta.url));
