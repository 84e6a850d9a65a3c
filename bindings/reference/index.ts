export { createReferenceIommu, ReferenceIommu } from "./iommu.js";
