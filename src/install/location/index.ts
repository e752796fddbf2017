// The location contract: resolveLocation(spec, fetcher) -> Tree, the --location grammar,
// and the tsvirt tree format (documented in tsvirt-tree-format.ts).
export { resolveLocation } from './resolve-location.js';
export type { ResolveOptions } from './resolve-location.js';
export { parseLocationSpec } from './location-spec.js';
export type { LocationSpec } from './location-spec.js';
export type { Tree, TreeFamily, TreeSourceKind } from './tree.js';
export { parseTreeInfo, classifyTreeInfoFamily } from './treeinfo.js';
export { renderTsvirtTreeInfo, TSVIRT_TREE_FAMILY, TSVIRT_TREE_KERNEL, TSVIRT_TREE_INITRD } from './tsvirt-tree-format.js';
export type { TsvirtTreeInfo } from './tsvirt-tree-format.js';
