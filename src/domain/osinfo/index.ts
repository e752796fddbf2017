// libosinfo's OS database (osinfo-db), read by tsvirt itself: the loader with its JSON
// cache, the records it keeps, and what an OS's relations resolve to. os-variants.ts turns
// these into the defaults virt-install would choose.
export { defaultOsinfoDb, defaultOsinfoLocations, loadOsinfo, OsinfoDb, OSINFO_DEBIAN_PACKAGE } from './osinfo-db.js';
export type { LoadedOsinfo, LoadOsinfoOptions, OsinfoLocations } from './osinfo-db.js';
export { ancestry, kernelUrlArgument, minimumResource, recommendedResource, resolvedResources, supportedDevices } from './os-facts.js';
export type * from './records.js';
