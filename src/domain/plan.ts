// The front-end's library entry: argv in, the install plan out — the Domain of each
// phase, the disks to create, the media to fetch, warnings — and what tsvirt-install
// prints for --print-xml, --dry-run, --help, --version and --osinfo list. Checks the host
// only by reading (file existence, /dev/kvm, /proc/cpuinfo); it creates nothing.
// Running the install itself belongs to the integration of src/install, src/storage and
// src/vm and is refused here, before anything is created.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { TsvirtError } from '../lib/errors.js';
import { probeFormat } from '../storage/open-image.js';
import { buildInstall, type BuiltInstall, type PlannedDisk, type MediaPlan, type ResolvedBootMedia } from './build-domain.js';
import { defaultBootDir, defaultImageDir } from './disk-paths.js';
import { formatInstallHelp } from './help.js';
import type { DiskFormat, Domain } from './model.js';
import { parseInstallArgv, type InstallSpecs } from './options/install-options.js';
import type { LocationSpec } from './options/location.js';
import { formatOsVariantList } from './os-variants.js';
import { probeHostVirt, virtTypeChoice, type HostVirtFacts } from './virt-type.js';
import { renderDomainXml } from './xml/render.js';

export interface PlanEnv {
  readonly cwd: string;
  readonly uid: number;
  readonly home: string;
  readonly xdgDataHome?: string;
  readonly xdgCacheHome?: string;
  /** Host facts for the kvm/qemu decision; probed from /dev/kvm and /proc/cpuinfo when absent. */
  readonly host?: HostVirtFacts;
  readonly fileExists?: (path: string) => boolean;
  readonly isDirectory?: (path: string) => boolean;
  readonly imageFormat?: (path: string) => DiskFormat;
  readonly uuid?: () => string;
  readonly random?: (n: number) => Uint8Array;
  /** Free bytes for new files under a directory; statfs of its nearest existing ancestor when absent. */
  readonly freeBytes?: (dir: string) => number | undefined;
  readonly resolveLocation?: (location: LocationSpec) => ResolvedBootMedia;
  /** Whether a domain of this name is defined; the command knows the definition store. */
  readonly domainExists?: (name: string) => boolean;
}

/** What --dry-run reports: everything that would be created or fetched, nothing done. */
export interface DryRunPlan {
  readonly name: string;
  readonly osVariant: string;
  readonly virtType: Domain['type'];
  readonly memoryMiB: number;
  readonly vcpus: number;
  readonly disksToCreate: readonly PlannedDisk[];
  readonly existingDisks: readonly string[];
  readonly media: MediaPlan;
  readonly reboot: boolean;
  readonly defaultsUsed: readonly string[];
}

export interface InstallPlan {
  readonly specs: InstallSpecs;
  /** The domain as it is defined after the install (the single source of truth later layers use). */
  readonly domain: Domain;
  readonly installPhase?: Domain;
  readonly finalPhase: Domain;
  readonly dryRunPlan: DryRunPlan;
  readonly warnings: readonly string[];
  /** Set when the default chose the software CPU: why KVM is not used. */
  readonly accelNote?: string;
}

/** The process environment a real tsvirt-install run uses. */
export function processPlanEnv(): PlanEnv {
  return {
    cwd: process.cwd(),
    uid: process.getuid?.() ?? 1000,
    home: process.env.HOME ?? '/',
    xdgDataHome: process.env.XDG_DATA_HOME,
    xdgCacheHome: process.env.XDG_CACHE_HOME,
  };
}

/** statfs of the nearest existing ancestor: what new images under dir could use (bavail). */
export function freeBytesFor(dir: string): number | undefined {
  for (let d = dir; ; d = dirname(d)) {
    try {
      const st = statfsSync(d);
      return st.bavail * st.bsize;
    } catch {
      if (dirname(d) === d) return undefined;
    }
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function build(specs: InstallSpecs, env: PlanEnv): { built: BuiltInstall; accelNote?: string } {
  const { virtType, note } = virtTypeChoice(env.host ?? probeHostVirt(), specs.virtType);
  const built = buildInstall(specs, {
    virtType,
    cwd: env.cwd,
    imageDir: defaultImageDir(env),
    bootDir: defaultBootDir(env),
    fileExists: env.fileExists ?? existsSync,
    isDirectory: env.isDirectory ?? isDir,
    imageFormat: env.imageFormat ?? probeFormat,
    uuid: env.uuid ?? randomUUID,
    random: env.random ?? ((n) => randomBytes(n)),
    freeBytes: env.freeBytes ?? freeBytesFor,
    resolveLocation: env.resolveLocation,
    domainExists: env.domainExists,
  });
  return { built, accelNote: note };
}

function toPlan(specs: InstallSpecs, { built, accelNote }: { built: BuiltInstall; accelNote?: string }): InstallPlan {
  const d = built.finalPhase;
  const created = new Set(built.disksToCreate.map((p) => p.path));
  return {
    specs,
    domain: d,
    installPhase: built.installPhase,
    finalPhase: d,
    warnings: [...specs.optionWarnings, ...built.warnings],
    accelNote,
    dryRunPlan: {
      name: d.name,
      osVariant: built.variant.id,
      virtType: d.type,
      memoryMiB: d.currentMemoryKiB / 1024,
      vcpus: d.vcpusCurrent,
      disksToCreate: built.disksToCreate,
      existingDisks: d.devices.disks.flatMap((x) => (x.sourcePath !== undefined && !created.has(x.sourcePath) ? [x.sourcePath] : [])),
      media: built.media,
      reboot: !specs.noreboot,
      defaultsUsed: built.defaultsUsed,
    },
  };
}

/** Parses argv and builds the install plan; throws TsvirtError for the user's mistakes. */
export function planFromArgv(argv: readonly string[], env: PlanEnv): InstallPlan {
  const specs = parseInstallArgv(argv);
  return toPlan(specs, build(specs, env));
}

/** The documents --print-xml prints: both phases of an install, or the one of --import/--boot. */
export function printXmlDocuments(plan: InstallPlan, step: 'all' | 1 | 2): string[] {
  const phases = plan.installPhase ? [plan.installPhase, plan.finalPhase] : [plan.finalPhase];
  if (step === 'all') return phases.map(renderDomainXml);
  if (step > phases.length) {
    throw new TsvirtError(`--print-xml ${step}: this install has only ${phases.length} step`, 'use --print-xml or --print-xml 1');
  }
  return [renderDomainXml(phases[step - 1])];
}

export function formatDryRunPlan(p: DryRunPlan): string {
  const lines = [...p.defaultsUsed, `Dry run: guest ${p.name} (os ${p.osVariant}, ${p.virtType}), ${p.memoryMiB} MiB memory, ${p.vcpus} vCPU${p.vcpus === 1 ? '' : 's'}`];
  for (const d of p.disksToCreate) {
    const backing = d.backingStore ? `, backing ${d.backingStore}${d.backingFormat ? ` (${d.backingFormat})` : ''}` : '';
    lines.push(`Would create disk ${d.path} (${d.format}, ${d.sizeGiB} GiB, ${d.sparse ? 'sparse' : 'preallocated'}${backing})`);
  }
  for (const path of p.existingDisks) lines.push(`Would use existing image ${path}`);
  const m = p.media;
  if (m.location) lines.push(`Install tree: ${m.location.location}`);
  if (m.kernel) lines.push(`Would fetch kernel ${m.kernel.from ?? "(named by the tree's .treeinfo)"} to ${m.kernel.to}`);
  if (m.initrd) lines.push(`Would fetch initrd ${m.initrd.from ?? "(named by the tree's .treeinfo)"} to ${m.initrd.to}`);
  if (m.extraArgs !== undefined) lines.push(`Extra kernel arguments: ${m.extraArgs}`);
  for (const f of m.injectFiles) lines.push(`Would inject ${f} into the initrd`);
  if (m.cdrom) lines.push(`Would boot the install from cdrom ${m.cdrom}`);
  if (m.method === 'pxe') lines.push('Would boot the install from the network (PXE)');
  if (m.method === 'import') lines.push('Would boot the existing disk (no install phase)');
  if (m.method !== 'import' && m.method !== 'boot') lines.push(p.reboot ? 'Would boot the installed system afterwards' : 'Would stop after the install (--noreboot)');
  lines.push('Dry run completed successfully');
  return `${lines.join('\n')}\n`;
}

export interface FrontEndOutput {
  readonly stdout: string;
  readonly warnings: readonly string[];
  /** The plan, for --dry-run (to check media and the kickstart) and for real runs. */
  readonly plan?: InstallPlan;
  /** 'run': nothing was printed; the caller runs the plan (src/install/run-domain.ts). */
  readonly mode: 'print' | 'dry-run' | 'run';
  /** For runs and dry runs that fell back to the software CPU by default: one line saying why. */
  readonly accelNote?: string;
}

/** What tsvirt-install prints, or the plan it runs: the command does the rest. */
export function runInstallFrontEnd(argv: readonly string[], env: PlanEnv, version: string): FrontEndOutput {
  const specs = parseInstallArgv(argv);
  if (specs.help) return { stdout: formatInstallHelp(), warnings: [], mode: 'print' };
  if (specs.version) return { stdout: `${version}\n`, warnings: [], mode: 'print' };
  if (specs.osVariant?.kind === 'list') return { stdout: `${formatOsVariantList()}\n`, warnings: [], mode: 'print' };
  const plan = toPlan(specs, build(specs, env));
  // --quiet keeps only errors (virt-install logs at ERROR level then); XML is the output itself.
  const warnings = specs.quiet ? [] : plan.warnings;
  if (specs.printXml !== undefined) return { stdout: printXmlDocuments(plan, specs.printXml).join(''), warnings, mode: 'print' };
  const accelNote = specs.quiet ? undefined : plan.accelNote;
  if (specs.dryRun) return { stdout: specs.quiet ? '' : formatDryRunPlan(plan.dryRunPlan), warnings, plan, mode: 'dry-run', accelNote };
  return { stdout: '', warnings, plan, mode: 'run', accelNote };
}
