// The install layer's contract for tsvirt-install and the tree builder: locations and
// trees, the fetcher, kickstart checking, initrd injection and the install plan.
export { prepareInstallMedia, INSTALL_PLAN_INITRD_PATH } from './prepare-install-media.js';
export type { InstallMediaRequest, InstallMedia } from './prepare-install-media.js';
export * from './fetch/index.js';
export * from './location/index.js';
export * from './kickstart/index.js';
export * from './plan/index.js';
export { injectFiles, buildInjectionArchive } from './inject.js';
export type { InjectSource } from './inject.js';
export { writeNewcArchive, CPIO_NEWC_MAGIC } from './cpio-newc.js';
export type { CpioEntry } from './cpio-newc.js';
export { Iso9660Image } from './iso9660/index.js';
