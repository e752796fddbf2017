// The storage layer's public face (STYLE.md §1): the BlockDevice contract, the opener,
// and the image operations the commands and the install flow call.
export type { BlockDevice, BlockStatusRun } from './block-device.js';
export { openImage, probeFormat, type ImageFormat, type OpenImageOptions } from './open-image.js';
export { createImage, parseCreateOptions, type CreateImageOptions, type CreatedImage, type Preallocation } from './create-image.js';
export { getImageInfo, formatImageInfo, type ImageInfo } from './image-info.js';
export { checkImage, checkExitCode, formatCheckReport, checkReportJson, type CheckReport, type RepairMode } from './check-image.js';
export { convertImage, type ConvertOptions } from './convert-image.js';
export { resizeImage } from './resize-image.js';
export { provisionDisks, type DiskToCreate, type ProvisionedDisks } from './provision.js';
export { parseSize, parseSizeChange, formatSize } from './size.js';
export { defaultImageDir, nextImagePath } from './image-paths.js';
