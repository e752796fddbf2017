// The install plan contract: buildInstallPlan(kickstart, disks, opts) -> InstallPlan (JSON).
export { buildInstallPlan, recommendedSwapMiB, MIB } from './build-install-plan.js';
export type { PlanDisk, PlanOptions } from './build-install-plan.js';
export type { InstallPlan, PlannedDisk, PlannedPartition, PlannedUser, PlannedNetwork, PlannedSource, PlannedScript, PartitionTableType } from './install-plan.js';
export { INSTALL_PLAN_VERSION } from './install-plan.js';
export { sha512Crypt, randomSalt } from './sha512-crypt.js';
