// Environments: who executes each DMA operation and what crossing it costs. In both Xen cases
// the IOMMU is programmed by the hypervisor at dom0's request, as in the study.

export const ENVIRONMENTS = ["baremetal", "xen-dom0", "xen-domU"] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

/** Who pays: the domain whose kernel runs the code, the hypervisor, or nobody on the CPU. */
export type Party = "kernel" | "dom0" | "domU" | "xen";

export interface Environment {
  name: EnvironmentName;
  description: string;
  /** The kernel that runs the device driver and the DMA API. */
  driver: Party;
  /** Who writes table entries and flushes: the kernel itself, or Xen on a hypercall. */
  iommuOwner: Party;
  /** The domain that hands buffers to the driver domain through grants (PV front-end), if any. */
  frontend: Party | null;
  /** CPU each party runs on (the hypervisor runs on its caller's CPU). */
  cpuOf: Partial<Record<Party, number>>;
  /** CPU utilisation is reported out of this (100 for the whole machine, 800 for 8 CPUs summed). */
  utilisationScale: "machine" | "per-cpu-sum";
}

export const ENVIRONMENT_PRESETS: Record<EnvironmentName, Environment> = {
  baremetal: {
    name: "baremetal",
    description: "Linux on the hardware: the kernel runs the driver and programs the IOMMU",
    driver: "kernel",
    iommuOwner: "kernel",
    frontend: null,
    cpuOf: { kernel: 0 },
    utilisationScale: "machine",
  },
  "xen-dom0": {
    name: "xen-dom0",
    description: "Xen, I/O in dom0: dom0's driver maps, each TCE update is a hypercall",
    driver: "dom0",
    iommuOwner: "xen",
    frontend: null,
    cpuOf: { dom0: 0 },
    utilisationScale: "per-cpu-sum",
  },
  "xen-domU": {
    name: "xen-domU",
    description: "Xen, I/O from a PV domU: netfront grants pages, dom0's netback maps them, Xen programs the IOMMU",
    driver: "dom0",
    iommuOwner: "xen",
    frontend: "domU",
    cpuOf: { dom0: 0, domU: 1 },
    utilisationScale: "per-cpu-sum",
  },
};
