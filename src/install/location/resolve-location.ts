// --location resolution: opens the source (directory, http(s) URL or ISO image), finds
// the layout (.treeinfo, Debian/Ubuntu installer trees, tsvirt trees; kernel=/initrd=
// override what is found), materialises kernel and initrd locally (verified against the
// tree's [checksums]) and adds the distro's kernel arguments. Follows virt-install's
// urldetect order: treeinfo first, then the Debian/Ubuntu probes. Leaves out SUSE
// `content` files, Mageia and libosinfo media matching.
import { TsvirtError } from '../../lib/errors.js';
import type { Checksum } from '../fetch/checksum.js';
import { FetchNotFoundError, type Fetcher } from '../fetch/fetcher.js';
import { DEBIAN_PROBED_FILES, detectDebianLayout } from './debian-layout.js';
import { distroKernelArgs, needsNetworkRepo } from './kernel-args.js';
import { type LocationSpec, parseLocationSpec, treeRelativePath } from './location-spec.js';
import type { Tree, TreeFamily } from './tree.js';
import { openTreeSource, type TreeSource } from './tree-source.js';
import { classifyTreeInfoFamily, parseTreeInfo, type TreeInfo } from './treeinfo.js';
import { treeInstallerFilesystems } from './tsvirt-tree-format.js';

export interface ResolveOptions {
  /** The guest architecture; tsvirt runs x86_64. */
  readonly arch?: string;
}

interface Layout {
  family: TreeFamily;
  distroName: string;
  version?: string;
  arch?: string;
  kernel?: string;
  initrd?: string;
  liveimg?: string;
  installerFilesystems?: readonly string[];
  checksums: ReadonlyMap<string, Checksum>;
}

const TREEINFO_NAMES = ['.treeinfo', 'treeinfo'];

/** Resolves `--location` (a string as virt-install takes it, or an already split spec). */
export async function resolveLocation(spec: LocationSpec | string, fetcher: Fetcher, opts: ResolveOptions = {}): Promise<Tree> {
  const s = typeof spec === 'string' ? parseLocationSpec(spec) : spec;
  const arch = opts.arch ?? 'x86_64';
  const source = await openTreeSource(s.location, fetcher);
  try {
    const layout = (await treeInfoLayout(source, arch)) ?? (await debianLayout(source));
    if (!layout && !(s.kernel && s.initrd)) {
      throw new TsvirtError(
        `cannot recognise the install tree at ${s.location}: looked for ${[...TREEINFO_NAMES, ...DEBIAN_PROBED_FILES].join(', ')}`,
        'give a Fedora/RHEL/SUSE/Debian/Ubuntu/tsvirt tree, or name the files with --location LOCATION,kernel=PATH,initrd=PATH',
      );
    }
    const l: Layout = layout ?? { family: 'custom', distroName: 'custom', checksums: new Map() };
    const kernelPath = s.kernel ? treeRelativePath(s.kernel) : l.kernel;
    const initrdPath = s.initrd ? treeRelativePath(s.initrd) : l.initrd;
    if (!kernelPath || !initrdPath) {
      throw new TsvirtError(`the ${l.distroName} tree at ${s.location} names no kernel and initrd for ${arch}`, 'give them with kernel=PATH,initrd=PATH');
    }
    if (l.family === 'tsvirt') {
      for (const p of [kernelPath, initrdPath, ...(l.liveimg ? [l.liveimg] : [])]) {
        if (!l.checksums.has(p)) throw new TsvirtError(`tsvirt tree at ${s.location}: [checksums] has no entry for ${p}`, 'rebuild the tree');
      }
    }
    const kernel = await materialize(source, kernelPath, l.checksums.get(kernelPath));
    const initrd = await materialize(source, initrdPath, l.checksums.get(initrdPath));
    const notes: string[] = [];
    if (source.kind !== 'url' && needsNetworkRepo(l.family)) {
      notes.push(`a ${l.distroName} installer booted from a ${source.kind} usually needs inst.repo= pointing at a network copy of the tree`);
    }
    return {
      kernel,
      initrd,
      family: l.family,
      distroName: l.distroName,
      version: l.version,
      arch: l.arch,
      source: { kind: source.kind, location: s.location },
      kernelArgs: distroKernelArgs(l.family, source.kind, s.location),
      liveimg: l.liveimg === undefined ? undefined : source.describe(l.liveimg),
      installerFilesystems: l.installerFilesystems,
      notes,
    };
  } finally {
    await source.close();
  }
}

async function materialize(source: TreeSource, path: string, checksum: Checksum | undefined): Promise<string> {
  try {
    return await source.materialize(path, checksum);
  } catch (err) {
    // Only a resource that does not exist is reported as missing from the tree; size limits,
    // checksums and timeouts keep their own message.
    if (err instanceof FetchNotFoundError) {
      throw new TsvirtError(`the install tree has no ${path} (${source.describe(path)})`, 'check the location and the kernel=/initrd= paths');
    }
    throw err;
  }
}

async function treeInfoLayout(source: TreeSource, arch: string): Promise<Layout | undefined> {
  for (const name of TREEINFO_NAMES) {
    const content = await source.readSmall(name);
    if (content === null) continue;
    const info: TreeInfo = parseTreeInfo(content, source.describe(name));
    const family = classifyTreeInfoFamily(info.family);
    if (info.arch && info.arch !== arch && !info.images.has(arch)) {
      throw new TsvirtError(`the ${info.family} tree at ${source.location} is for ${info.arch}; tsvirt runs ${arch} guests`);
    }
    const images = info.images.get(arch) ?? (info.arch ? info.images.get(info.arch) : undefined);
    return {
      family,
      distroName: info.family,
      version: info.version,
      arch: info.arch ?? arch,
      kernel: images?.kernel,
      initrd: images?.initrd,
      liveimg: family === 'tsvirt' ? images?.liveimg : undefined,
      installerFilesystems: family === 'tsvirt' ? treeInstallerFilesystems(images) : undefined,
      checksums: info.checksums,
    };
  }
  return undefined;
}

async function debianLayout(source: TreeSource): Promise<Layout | undefined> {
  const d = await detectDebianLayout(source);
  if (!d) return undefined;
  return {
    family: d.family,
    distroName: d.family === 'debian' ? 'Debian' : 'Ubuntu',
    version: d.version,
    arch: d.arch === 'amd64' ? 'x86_64' : d.arch,
    kernel: d.kernel,
    initrd: d.initrd,
    checksums: new Map(),
  };
}
