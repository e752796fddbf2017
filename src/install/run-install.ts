// The unattended install, end to end (issue 8): the two phases virt-install runs.
//  1. Prepare, touching nothing but the download cache: resolve the tree, fetch and
//     validate the kickstart, plan the disks, fetch and check the liveimg, render the
//     installer's files. Any error stops here.
//  2. Create the disks (removed again if anything later fails or the user interrupts),
//     write their partition tables, inject the plan into the tree's initrd, build the
//     payload disk, and boot the installer (on_reboot=destroy). The installer's status
//     line decides success.
//  3. Unless --noreboot: boot the installed system from its own disk, pygrub-style.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Writable } from 'node:stream';
import { abortReasonText } from '../lib/interrupts.js';
import { TsvirtError } from '../lib/errors.js';
import { openImage, type ImageFormat } from '../storage/open-image.js';
import { placePartitions, writePartitionLayout } from '../storage/partition/partition-table.js';
import { provisionDisks, type ProvisionedDisks } from '../storage/provision.js';
import { findDiskBoot } from '../vm/boot/installed-disk.js';
import type { ConsoleIo, MachineResult } from '../vm/machine/index.js';
import type { Fetcher } from './fetch/index.js';
import { isRemoteSource, originOf, resolveNamedSource } from './fetch/source-trust.js';
import { runOnVmCore, checkEmulatable, type GuestDisk, type GuestNic, type GuestRunner, type GuestSpec } from './guest-machine.js';
import { injectFiles } from './inject.js';
import { renderInstallerFiles } from './installer-files.js';
import { lastCommand, prepareKickstart, printKickstart } from './kickstart/index.js';
import { resolveLocation, type Tree } from './location/index.js';
import { TSVIRT_TREE_LEGACY_FILESYSTEMS } from './location/tsvirt-tree-format.js';
import { PAYLOAD_SERIAL, writePayloadDisk } from './payload-disk.js';
import { buildInstallPlan, type InstallPlan } from './plan/index.js';
import { bzImageRelease } from './tree-build/kernel-version.js';

export const STATUS_LINE = /TSVIRT-INSTALL-STATUS: (ok|failed: ([^\r\n]*))\r?\n/;

export interface InstallDisk extends Omit<GuestDisk, 'format'> {
  format: ImageFormat;
  /** Create the image before the install (size= given, or a backing store). */
  create: boolean;
  sizeBytes?: number;
  sparse?: boolean;
  backingStore?: string;
  backingFormat?: ImageFormat;
}

export interface InstallJob {
  name: string;
  memoryMiB: number;
  vcpus: number;
  disks: readonly InstallDisk[];
  nics: readonly GuestNic[];
  rng: boolean;
  location: { location: string; kernel?: string; initrd?: string };
  extraArgs: string;
  initrdInject: readonly string[];
  noreboot: boolean;
  force: boolean;
  /** Who runs the guest's vCPUs (the domain's type: kvm, or qemu = the software CPU). */
  accelerator?: 'kvm' | 'ts';
}

export interface InstallDeps {
  fetcher: Fetcher;
  runGuest?: GuestRunner;
  /** The terminal side of the console (stdin/stdout); the flow taps stdout for the status line. */
  console: Omit<ConsoleIo, 'signal'>;
  /** Aborting (SIGINT/SIGTERM) stops the guest and undoes what this run created. */
  signal?: AbortSignal;
  progress?: (line: string) => void;
  /** Where temporary files go (the injected initrd, the payload disk). */
  tmpDir?: string;
}

export interface PhaseTiming {
  phase: string;
  seconds: number;
}

export interface InstallOutcome {
  tree: Tree;
  plan: InstallPlan;
  created: readonly string[];
  phases: PhaseTiming[];
  installResult: MachineResult;
  bootResult?: MachineResult;
}

export interface PreparedInstall {
  tree: Tree;
  plan: InstallPlan;
  kernelRelease: string;
  liveimgPath: string;
  installerFiles: ReturnType<typeof renderInstallerFiles>;
  cmdline: string;
}

/** Step 1: everything that can fail before anything is created. */
export async function prepareInstall(job: InstallJob, fetcher: Fetcher, progress: (l: string) => void = () => {}): Promise<PreparedInstall> {
  checkEmulatable({ disks: job.disks, nics: job.nics });
  const targets = job.disks.filter((d) => !d.readOnly);
  if (targets.length === 0) throw new TsvirtError('an install needs a writable disk', 'add --disk size=N');
  const tree = await resolveLocation(job.location, fetcher);
  progress(`install tree: ${tree.distroName} ${tree.version ?? ''} (${tree.family}) from ${tree.source.location}`.replace(/\s+/g, ' '));
  const ks = await prepareKickstart({ extraArgs: job.extraArgs, injectPaths: job.initrdInject }, fetcher);
  if (!ks) {
    throw new TsvirtError(
      "tsvirt's installer needs a kickstart",
      'pass --extra-args "inst.ks=URL" or --initrd-inject ks.cfg (interactive installs are not supported)',
    );
  }
  for (const p of ks.problems) progress(`kickstart warning: ${p.file}:${p.line}: ${p.message}`);
  const kernelRelease = bzImageRelease(readFileSync(tree.kernel), tree.kernel);
  const planDisks = targets.map((d) => ({ target: d.target, sizeBytes: d.create ? sizeOfNew(d) : sizeOfExisting(d) }));
  const plan = buildInstallPlan(ks.kickstart, planDisks, {
    memoryMiB: job.memoryMiB,
    defaultSource: tree.liveimg ? { kind: 'liveimg', url: tree.liveimg, noverifyssl: false } : undefined,
  });
  // Everything the installer will be asked to do is checked here, before the liveimg is
  // fetched and before any disk is created (renderInstallerFiles also says why a plan
  // without a liveimg cannot be installed).
  const installerFiles = renderInstallerFiles({
    plan,
    kickstartText: printKickstart(ks.kickstart),
    kernelRelease,
    liveimgName: plan.source.kind === 'liveimg' ? basename(new URL(plan.source.url, 'file:///').pathname) : '',
    installerFilesystems: tree.installerFilesystems ?? TSVIRT_TREE_LEGACY_FILESYSTEMS,
  });
  const src = plan.source as Extract<InstallPlan['source'], { kind: 'liveimg' }>;
  // A liveimg the kickstart names is fetched under the trust rule of source-trust.ts: from
  // a kickstart fetched over http(s), only its own server or the tree's (--location).
  const liveimgCommand = lastCommand(ks.kickstart, 'liveimg');
  const liveimgUrl = liveimgCommand
    ? resolveNamedSource({ source: liveimgCommand.at.file, trustedOrigins: isRemoteSource(job.location.location) ? [originOf(job.location.location)] : [] }, src.url)
    : src.url;
  const liveimg = await fetcher.fetchFile(liveimgUrl, { checksum: src.checksum, label: `liveimg ${basename(src.url)}` });
  const cmdline = [job.extraArgs, ...tree.kernelArgs].filter(Boolean).join(' ');
  return { tree, plan, kernelRelease, liveimgPath: liveimg.path, installerFiles, cmdline };
}

function sizeOfNew(d: InstallDisk): number {
  if (d.sizeBytes) return d.sizeBytes;
  if (d.backingStore) return sizeOfExisting({ ...d, path: d.backingStore, format: d.backingFormat ?? 'qcow2' });
  throw new TsvirtError(`--disk ${d.path}: size= is required for a new disk`);
}

function sizeOfExisting(d: Pick<InstallDisk, 'path' | 'format'>): number {
  const dev = openImage(d.path, { readOnly: true, format: d.format });
  try {
    return dev.size;
  } finally {
    dev.close();
  }
}

/** Taps the console for the installer's status line and stops the guest when it comes. */
class StatusTap extends Writable {
  private tail = '';
  status?: { ok: boolean; reason?: string };
  constructor(private readonly forward: NodeJS.WritableStream | undefined, private readonly onStatus: () => void) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.forward?.write(chunk);
    if (!this.status) {
      this.tail = (this.tail + chunk.toString('latin1')).slice(-4096);
      const m = STATUS_LINE.exec(this.tail);
      if (m) {
        this.status = m[1] === 'ok' ? { ok: true } : { ok: false, reason: m[2] };
        this.onStatus();
      }
    }
    cb();
  }
}

function linked(parent: AbortSignal | undefined): AbortController {
  const c = new AbortController();
  if (parent) {
    if (parent.aborted) c.abort();
    else parent.addEventListener('abort', () => c.abort(), { once: true });
  }
  return c;
}

export async function runInstall(job: InstallJob, deps: InstallDeps): Promise<InstallOutcome> {
  const progress = deps.progress ?? (() => {});
  const runGuest = deps.runGuest ?? runOnVmCore;
  const phases: PhaseTiming[] = [];
  const timed = async <T>(phase: string, f: () => Promise<T>): Promise<T> => {
    const t0 = process.hrtime.bigint();
    try {
      return await f();
    } finally {
      phases.push({ phase, seconds: Number(process.hrtime.bigint() - t0) / 1e9 });
    }
  };
  const prepared = await timed('prepare', () => prepareInstall(job, deps.fetcher, progress));
  if (deps.signal?.aborted) throw new TsvirtError(`${abortReasonText(deps.signal)} before anything was created`);

  let provisioned: ProvisionedDisks | undefined;
  const work = mkdtempSync(join(deps.tmpDir ?? tmpdir(), 'tsvirt-install-'));
  try {
    provisioned = provisionDisks(
      job.disks.filter((d) => d.create).map((d) => ({
        path: d.path,
        format: d.format,
        sizeBytes: d.sizeBytes,
        sparse: d.sparse,
        backingStore: d.backingStore,
        backingFormat: d.backingFormat,
      })),
      { force: job.force },
    );
    for (const c of provisioned.created) progress(`created disk ${c}`);
    const installResult = await timed('install', async () => {
      writePartitionTables(job, prepared.plan);
      // The user's --initrd-inject files go in as they are (virt-install's behaviour); a
      // user's own ks.cfg takes the place of the normalized copy tsvirt adds.
      const userNames = new Set(job.initrdInject.map((p) => basename(p)));
      const initrd = await injectFiles(prepared.tree.initrd, [
        ...job.initrdInject,
        ...prepared.installerFiles.filter((e) => e.type === 'file' && !userNames.has(e.path)).map((e) => ({ name: e.path, data: e.data!, mode: e.mode })),
      ]);
      const initrdPath = join(work, 'initrd.img');
      writeFileSync(initrdPath, initrd);
      const payload = join(work, 'payload.img');
      await writePayloadDisk(payload, {
        kernelRelease: prepared.kernelRelease,
        kernel: prepared.tree.kernel,
        initrd: prepared.tree.initrd,
        liveimg: prepared.liveimgPath,
      });
      progress('starting the install');
      const spec: GuestSpec = {
        memoryBytes: job.memoryMiB * 1024 * 1024,
        vcpus: job.vcpus,
        kernel: prepared.tree.kernel,
        initrd: initrdPath,
        cmdline: prepared.cmdline,
        // The targets keep the first PCI slots (so the guest names them as planned); the
        // payload comes last and is found by its serial.
        disks: [...job.disks, { path: payload, format: 'raw', readOnly: true, serial: PAYLOAD_SERIAL, target: 'payload', bus: 'virtio', device: 'disk' }],
        nics: job.nics,
        rng: job.rng,
        onReboot: 'destroy',
        accelerator: job.accelerator,
      };
      const stop = linked(deps.signal);
      const tap = new StatusTap(deps.console.stdout, () => stop.abort());
      const result = await runGuest(spec, { ...deps.console, stdout: tap, signal: stop.signal });
      if (deps.signal?.aborted) throw new TsvirtError(`the install was ${abortReasonText(deps.signal)}; the disks it created were removed`);
      if (!tap.status) {
        throw new TsvirtError(
          `the installer stopped without reporting (${result.kind}${result.message ? `: ${result.message}` : ''}); last console lines:\n${result.lastConsoleLines.slice(-10).join('\n')}`,
        );
      }
      if (!tap.status.ok) throw new TsvirtError(`the install failed: ${tap.status.reason}`, 'see the console output above');
      return result;
    });
    progress('install finished');

    let bootResult: MachineResult | undefined;
    if (!job.noreboot) {
      bootResult = await timed('boot', async () => {
        const first = job.disks.find((d) => !d.readOnly)!;
        const dev = openImage(first.path, { readOnly: true, format: first.format, allowBacking: first.allowBacking });
        let boot;
        try {
          boot = findDiskBoot(dev);
        } finally {
          dev.close();
        }
        progress(`booting the installed system (${boot.source})`);
        return runGuest(
          { memoryBytes: job.memoryMiB * 1024 * 1024, vcpus: job.vcpus, kernel: boot.kernel, initrd: boot.initrd, cmdline: boot.cmdline, disks: job.disks, nics: job.nics, rng: job.rng, onReboot: 'restart', accelerator: job.accelerator },
          { ...deps.console, signal: deps.signal },
        );
      });
    }
    return { tree: prepared.tree, plan: prepared.plan, created: provisioned.created, phases, installResult, bootResult };
  } catch (err) {
    const removed = provisioned?.removeCreated() ?? [];
    for (const r of removed) progress(`removed ${r}`);
    throw err;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function writePartitionTables(job: InstallJob, plan: InstallPlan): void {
  for (const planned of plan.disks) {
    const disk = job.disks.find((d) => d.target === planned.target);
    if (!disk) throw new Error(`plan names disk ${planned.target}, which the job does not have`);
    if (planned.partitions.length === 0) continue;
    const scheme = planned.partitionTable === 'gpt' ? 'gpt' : 'mbr';
    const dev = openImage(disk.path, { readOnly: false, format: disk.format, allowBacking: disk.allowBacking });
    try {
      const layout = placePartitions(
        dev.size,
        scheme,
        planned.partitions.map((p) => ({
          startBytes: p.startBytes,
          sizeBytes: p.sizeBytes,
          kind: p.fstype === 'swap' ? 'swap' : p.mountpoint === 'biosboot' ? 'bios-boot' : p.fstype === 'efi' || p.fstype === 'vfat' ? 'efi' : 'linux',
          bootable: p.bootable,
          name: p.label,
        })),
      );
      writePartitionLayout(dev, scheme, layout);
    } finally {
      dev.close();
    }
  }
}
