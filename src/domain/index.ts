// The domain layer's contract: the Domain model, the virt-install option grammar, the
// install plan (planFromArgv) and libvirt XML render/parse.
export * from './model.js';
export { planFromArgv, printXmlDocuments, formatDryRunPlan, runInstallFrontEnd, processPlanEnv } from './plan.js';
export type { PlanEnv, InstallPlan, DryRunPlan, FrontEndOutput } from './plan.js';
export type { PlannedDisk, MediaPlan, ResolvedBootMedia, InstallMethod } from './build-domain.js';
export { parseInstallArgv, INSTALL_OPTIONS } from './options/install-options.js';
export type { InstallSpecs } from './options/install-options.js';
export type { LocationSpec } from './options/location.js';
export { renderDomainXml } from './xml/render.js';
export { parseDomainXml, parseDomainXmlDocuments } from './xml/parse.js';
export { detectVirtType, probeHostVirt } from './virt-type.js';
export { findOsVariant, findOsVariantById, formatOsVariantList, genericVariant } from './os-variants.js';
export type { OsVariant } from './os-variants.js';
export { defaultImageDir, defaultDiskPath } from './disk-paths.js';
