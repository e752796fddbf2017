// The ISO9660 reader contract: open an image, look up, list and read files by name.
export { Iso9660Image, ISO_SECTOR_BYTES } from './iso9660-image.js';
export type { IsoEntry } from './iso9660-image.js';
