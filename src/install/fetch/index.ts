// The fetch contract: one Fetcher for http(s), file:// and plain paths, with its cache,
// checksums and progress sinks.
export { createFetcher, defaultBackoffMs, FetchNotFoundError } from './fetcher.js';
export { classifySource } from './source-kind.js';
export type { Fetcher, FetcherOptions, FetchOptions, FetchedFile } from './fetcher.js';
export { parseChecksum, formatChecksum, hashFile, hashBytes } from './checksum.js';
export type { Checksum, ChecksumAlgorithm } from './checksum.js';
export { progressFor, lineProgress, barProgress, silentProgress } from './progress.js';
export type { ProgressSink } from './progress.js';
export { defaultCacheDir } from './download-cache.js';
