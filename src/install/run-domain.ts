// What `tsvirt-install` does once its options are planned (src/domain/plan.ts): pick the
// run the install method asks for and drive it.
//  --location      the kickstart install (run-install.ts), then boot from disk
//  --boot kernel=  direct kernel boot of the given kernel/initrd/kernel_args
//  --import        boot an existing installed disk (its extlinux.conf / BLS entry)
//  --cdrom, --pxe  not supported by the VM core yet: refused before anything is created
import { TsvirtError } from '../lib/errors.js';
import type { Domain, NetworkInterface } from '../domain/model.js';
import type { InstallPlan as FrontEndPlan } from '../domain/plan.js';
import { openImage } from '../storage/open-image.js';
import { findDiskBoot } from '../vm/boot/installed-disk.js';
import { machineResultError } from '../vm/machine/machine-result.js';
import type { ConsoleIo, MachineResult } from '../vm/machine/index.js';
import type { Fetcher } from './fetch/index.js';
import { runOnVmCore, type GuestDisk, type GuestNic, type GuestRunner, type GuestSpec } from './guest-machine.js';
import { runInstall, type InstallDisk, type InstallOutcome } from './run-install.js';

export interface RunDomainDeps {
  fetcher: Fetcher;
  console: Omit<ConsoleIo, 'signal'>;
  signal?: AbortSignal;
  progress?: (line: string) => void;
  runGuest?: GuestRunner;
}

export type RunDomainOutcome =
  | { kind: 'install'; outcome: InstallOutcome }
  | { kind: 'boot'; result: MachineResult };

const GIB = 1024 ** 3;

function guestNics(domain: Domain): GuestNic[] {
  return domain.devices.interfaces.map((n: NetworkInterface) => {
    if (n.type === 'network') {
      throw new TsvirtError(`--network network=${n.source ?? ''}: libvirt virtual networks are not supported by the VM core yet`, 'use --network user or bridge=BR');
    }
    return {
      mac: n.mac,
      model: n.model,
      network: n.type === 'bridge' ? { type: 'bridge', bridge: n.source ?? '' } : { type: 'user' },
    };
  });
}

function guestDisks(domain: Domain): GuestDisk[] {
  return domain.devices.disks.map((d) => {
    if (!d.sourcePath) throw new TsvirtError(`--disk ${d.targetDev} has no image, which the VM core cannot attach yet`);
    return {
      path: d.sourcePath,
      format: d.format,
      readOnly: d.readonly,
      serial: d.serial,
      cache: d.cache === 'default' ? undefined : d.cache,
      target: d.targetDev,
      bus: d.bus,
      device: d.device,
    };
  });
}

export function guestSpecFor(domain: Domain, boot: { kernel: string | Uint8Array; initrd?: string | Uint8Array; cmdline: string }): GuestSpec {
  return {
    memoryBytes: domain.currentMemoryKiB * 1024,
    vcpus: domain.vcpusCurrent,
    kernel: boot.kernel,
    initrd: boot.initrd,
    cmdline: boot.cmdline,
    disks: guestDisks(domain),
    nics: guestNics(domain),
    rng: domain.devices.rng.length > 0,
    onReboot: domain.lifecycle.onReboot === 'restart' ? 'restart' : 'destroy',
  };
}

/** The kernel, initrd and command line an installed disk boots (pygrub-style). */
export function bootFromDisk(domain: Domain): { kernel: Uint8Array; initrd?: Uint8Array; cmdline: string; source: string } {
  const disk = domain.devices.disks.find((d) => d.device === 'disk' && d.sourcePath);
  if (!disk?.sourcePath) throw new TsvirtError('there is no disk to boot from', 'add --disk PATH');
  const dev = openImage(disk.sourcePath, { readOnly: true, format: disk.format });
  try {
    return findDiskBoot(dev);
  } finally {
    dev.close();
  }
}

export async function runDomain(plan: FrontEndPlan, deps: RunDomainDeps): Promise<RunDomainOutcome> {
  const { specs, finalPhase: domain } = plan;
  const method = plan.dryRunPlan.media.method;
  const runGuest = deps.runGuest ?? runOnVmCore;
  switch (method) {
    case 'location': {
      if (!specs.location) throw new Error('location install without a location');
      const toCreate = new Map(plan.dryRunPlan.disksToCreate.map((d) => [d.path, d]));
      const disks: InstallDisk[] = guestDisks(domain).map((g) => {
        const c = toCreate.get(g.path);
        return {
          ...g,
          format: g.format ?? c?.format ?? 'raw',
          create: c !== undefined,
          sizeBytes: c ? Math.round(c.sizeGiB * GIB) : undefined,
          sparse: c?.sparse,
          backingStore: c?.backingStore,
          backingFormat: c?.backingFormat,
        };
      });
      const outcome = await runInstall(
        {
          name: domain.name,
          memoryMiB: domain.currentMemoryKiB / 1024,
          vcpus: domain.vcpusCurrent,
          disks,
          nics: guestNics(domain),
          rng: domain.devices.rng.length > 0,
          location: { location: specs.location.location, kernel: specs.location.kernel, initrd: specs.location.initrd },
          extraArgs: specs.extraArgs.join(' '),
          initrdInject: specs.initrdInject,
          noreboot: specs.noreboot,
          force: specs.force,
        },
        { fetcher: deps.fetcher, console: deps.console, signal: deps.signal, progress: deps.progress, runGuest },
      );
      if (outcome.bootResult) {
        const err = machineResultError(outcome.bootResult, { name: domain.name, waitMinutes: specs.waitMinutes });
        if (err) throw err;
      }
      return { kind: 'install', outcome };
    }
    case 'boot': {
      if (!domain.os.kernel) throw new Error('--boot without a kernel');
      const spec = guestSpecFor(domain, { kernel: domain.os.kernel, initrd: domain.os.initrd, cmdline: domain.os.cmdline ?? '' });
      return { kind: 'boot', result: await runChecked(runGuest, spec, domain, deps, specs.waitMinutes) };
    }
    case 'import': {
      const boot = bootFromDisk(domain);
      deps.progress?.(`booting ${boot.source}`);
      const spec = guestSpecFor(domain, boot);
      return { kind: 'boot', result: await runChecked(runGuest, spec, domain, deps, specs.waitMinutes) };
    }
    case 'cdrom':
      throw new TsvirtError('--cdrom installs are not supported by the VM core yet', 'use --location with the ISO (tsvirt reads install trees from ISO images)');
    case 'pxe':
      throw new TsvirtError('--pxe installs are not supported by the VM core yet', 'use --location');
  }
}

async function runChecked(runGuest: GuestRunner, spec: GuestSpec, domain: Domain, deps: RunDomainDeps, waitMinutes?: number): Promise<MachineResult> {
  const stop = new AbortController();
  deps.signal?.addEventListener('abort', () => stop.abort(), { once: true });
  // virt-install --wait N: give up after N minutes (negative: forever, 0: not at all).
  const timer = waitMinutes !== undefined && waitMinutes > 0 ? setTimeout(() => stop.abort(), waitMinutes * 60_000) : undefined;
  try {
    const result = await runGuest(spec, { ...deps.console, signal: stop.signal });
    const timedOut = timer !== undefined && stop.signal.aborted && !deps.signal?.aborted;
    const err = machineResultError(timedOut ? { ...result, kind: 'timeout' } : result, { name: domain.name, waitMinutes });
    if (err) throw err;
    return result;
  } finally {
    if (timer) clearTimeout(timer);
  }
}
