// What of a libvirt domain definition the VM core can run, and the GuestSpec a runner
// boots from it. `checkRunnable` is static (define and start refuse the same things, with
// the element named); `guestSpecFor` also reads the host: the kernel named by <os><kernel>,
// or, with no <kernel>, the installed disk's own boot configuration (extlinux/BLS through
// the ext4 reader), as Xen's pygrub does. Leaves out: firmware boot (cdrom, network,
// BIOS), graphics, libvirt virtual networks, and lifecycle actions other than
// destroy/restart — each refused by name rather than dropped.
import fs from 'node:fs';
import { TsvirtError } from '../lib/errors.js';
import type { Domain, LifecycleAction } from '../domain/model.js';
import { checkEmulatable, type GuestDisk, type GuestNic, type GuestSpec } from '../install/guest-machine.js';
import { openImage } from '../storage/open-image.js';
import { findDiskBoot } from '../vm/boot/installed-disk.js';
import { expandPortForwards } from '../vm/net/port-forward.js';

function refuse(domain: Domain, what: string, hint: string): never {
  throw new TsvirtError(`domain '${domain.name}': ${what} is not supported by the tsvirt VM core`, hint);
}

export function guestDisks(domain: Domain): GuestDisk[] {
  return domain.devices.disks.map((d) => {
    if (d.sourcePath === undefined) refuse(domain, `an empty ${d.device} drive (${d.targetDev})`, 'remove the drive from the definition');
    return {
      path: d.sourcePath,
      format: d.format,
      readOnly: d.readonly,
      serial: d.serial,
      cache: d.cache,
      target: d.targetDev,
      bus: d.bus,
      device: d.device,
      ...(d.backingStore ? { allowBacking: [d.backingStore.path] } : {}),
    };
  });
}

export function guestNics(domain: Domain): GuestNic[] {
  return domain.devices.interfaces.map((n) => {
    if (n.type === 'network') refuse(domain, `<interface type="network"> (libvirt network '${n.source ?? ''}')`, 'use <interface type="user"> or type="bridge"');
    return {
      mac: n.mac,
      model: n.model,
      network: n.type === 'bridge' ? { type: 'bridge', bridge: n.source! } : { type: 'user', portForwards: expandPortForwards(n.portForwards ?? []) },
    };
  });
}

function action(domain: Domain, element: string, v: LifecycleAction, allowed: readonly LifecycleAction[]): LifecycleAction {
  if (!allowed.includes(v)) refuse(domain, `<${element}>${v}</${element}>`, `use ${allowed.join(' or ')}`);
  return v;
}

/** Throws TsvirtError naming the first element the VM core cannot run. */
export function checkRunnable(domain: Domain): void {
  if (domain.os.arch !== 'x86_64') refuse(domain, `arch ${domain.os.arch}`, 'use arch x86_64');
  if (domain.devices.graphics.length > 0) {
    refuse(domain, `<graphics type="${domain.devices.graphics[0].type}">`, 'remove <graphics> (virt-install --graphics none); the console is the serial port');
  }
  if (domain.os.kernel === undefined) {
    const bootsHd = domain.os.bootOrder.length === 0 ? domain.devices.disks.some((d) => d.device === 'disk') : domain.os.bootOrder[0] === 'hd';
    if (!bootsHd) refuse(domain, `firmware boot from ${domain.os.bootOrder[0] ?? 'a device with a boot order'}`, 'boot a kernel with <os><kernel> or from an installed disk (<boot dev="hd"/>)');
    if (!domain.devices.disks.some((d) => d.device === 'disk' && d.sourcePath !== undefined)) {
      refuse(domain, 'booting without <kernel> and without a disk', 'add <os><kernel> or a disk with an installed system');
    }
  }
  // The same limits as checkEmulatable, named in XML terms for `define`.
  for (const d of domain.devices.disks) {
    if (d.device !== 'disk') refuse(domain, `<disk device="${d.device}"> (${d.targetDev})`, 'use device="disk" on the virtio bus');
    if (d.bus !== 'virtio') refuse(domain, `<target dev="${d.targetDev}" bus="${d.bus}">`, 'use bus="virtio" (a vdX target)');
  }
  for (const n of domain.devices.interfaces) {
    if (n.type === 'network') refuse(domain, `<interface type="network"> (libvirt network '${n.source ?? ''}')`, 'use <interface type="user"> or type="bridge"');
    if (n.model !== 'virtio') refuse(domain, `<interface> <model type="${n.model}"> (${n.mac})`, 'use <model type="virtio"/>');
  }
  action(domain, 'on_poweroff', domain.lifecycle.onPoweroff, ['destroy']);
  action(domain, 'on_reboot', domain.lifecycle.onReboot, ['restart', 'destroy']);
  action(domain, 'on_crash', domain.lifecycle.onCrash, ['destroy']);
  checkEmulatable({ disks: guestDisks(domain), nics: guestNics(domain) });
}

/** The GuestSpec to boot now; reads the kernel's location or the installed disk. */
export function guestSpecFor(domain: Domain): GuestSpec & { bootSource: string } {
  checkRunnable(domain);
  const disks = guestDisks(domain);
  for (const d of disks) {
    if (!fs.existsSync(d.path)) throw new TsvirtError(`domain '${domain.name}': disk ${d.target} (${d.path}) does not exist`, 'create the image or fix <source file>');
  }
  let kernel: string | Uint8Array;
  let initrd: string | Uint8Array | undefined;
  let cmdline: string;
  let bootSource: string;
  if (domain.os.kernel !== undefined) {
    for (const [what, path] of [['kernel', domain.os.kernel], ['initrd', domain.os.initrd]] as const) {
      if (path !== undefined && !fs.existsSync(path)) throw new TsvirtError(`domain '${domain.name}': the ${what} ${path} does not exist`, 'fix <os> in the definition');
    }
    kernel = domain.os.kernel;
    initrd = domain.os.initrd;
    cmdline = domain.os.cmdline ?? '';
    bootSource = `kernel ${domain.os.kernel}`;
  } else {
    const first = disks.find((d) => d.device === 'disk')!;
    const dev = openImage(first.path, { readOnly: true, format: first.format, allowBacking: first.allowBacking });
    try {
      const boot = findDiskBoot(dev);
      ({ kernel, initrd, cmdline } = boot);
      bootSource = `${first.target} ${boot.source}`;
    } finally {
      dev.close();
    }
  }
  return {
    memoryBytes: domain.currentMemoryKiB * 1024,
    vcpus: domain.vcpusCurrent,
    kernel,
    initrd,
    cmdline,
    disks,
    nics: guestNics(domain),
    rng: domain.devices.rng.length > 0,
    onReboot: domain.lifecycle.onReboot === 'destroy' ? 'destroy' : 'restart',
    accelerator: domain.type === 'kvm' ? 'kvm' : 'ts',
    bootSource,
  };
}
