// What `define` checks in a Domain before it is stored, as libvirt does when it parses and
// validates a definition (its domain_conf.c post-parse checks; QEMU's limits for a pc
// machine): unique disk targets, an image used by one writable disk only, sane unique
// MAC addresses, vCPU and memory limits, absolute paths to regular places, and a bounded
// number of devices. A definition is a file from the user or another tool: every rule
// fails with one TsvirtError at define, not later at start. Leaves out: the checks of
// device kinds the VM core cannot run (lifecycle/domain-guest.ts checkRunnable).
import { TsvirtError } from '../lib/errors.js';
import type { Domain } from './model.js';

/** The largest definition `define` reads (a real one is a few KiB). */
export const MAX_DEFINITION_BYTES = 1024 * 1024;
/** Devices of each kind a definition may have (a pc machine has 32 PCI slots on its root bus). */
export const MAX_DEVICES_PER_KIND = 32;
/** QEMU's pc machine: at most 255 vCPUs (without an IOMMU for x2APIC). */
export const MAX_VCPUS = 255;
/** Paths a disk image, kernel or initrd may not live under: pseudo-file systems and devices. */
const FORBIDDEN_PREFIXES = ['/proc/', '/sys/', '/dev/'];

function refuse(domain: Domain, what: string, hint: string): never {
  throw new TsvirtError(`domain ${domain.name}: ${what}`, hint);
}

function checkPath(domain: Domain, path: string, what: string): void {
  if (!path.startsWith('/')) refuse(domain, `${what} ${path} is not an absolute path`, 'give the full path, as libvirt requires');
  if (path.includes('\0') || /(^|\/)\.\.(\/|$)/.test(path)) refuse(domain, `${what} ${JSON.stringify(path)} is not a plain absolute path`, 'give the full path without ".."');
  if (FORBIDDEN_PREFIXES.some((p) => path.startsWith(p))) refuse(domain, `${what} ${path} is not an image file`, 'give a regular file for a disk image, a kernel or an initrd');
}

/** Checks a parsed definition as libvirt would before storing it; throws TsvirtError. */
export function validateDefinition(domain: Domain, host: { memoryBytes: number }): void {
  const { disks, interfaces, serials, consoles, rng, graphics } = domain.devices;
  for (const [kind, list] of [['disks', disks], ['interfaces', interfaces], ['serial ports', serials], ['consoles', consoles], ['rng devices', rng], ['graphics devices', graphics]] as const) {
    if (list.length > MAX_DEVICES_PER_KIND) refuse(domain, `${list.length} ${kind}, more than the limit of ${MAX_DEVICES_PER_KIND}`, 'a pc machine has no room for more');
  }
  if (domain.vcpusMax < 1 || domain.vcpusMax > MAX_VCPUS) refuse(domain, `${domain.vcpusMax} vCPUs, outside 1..${MAX_VCPUS}`, `use at most ${MAX_VCPUS} vCPUs (a pc machine's limit)`);
  if (domain.vcpusCurrent < 1 || domain.vcpusCurrent > domain.vcpusMax) refuse(domain, `${domain.vcpusCurrent} vCPUs online, but the maximum is ${domain.vcpusMax}`, 'make <vcpu current=...> at most <vcpu>');
  if (domain.memoryKiB < 1024) refuse(domain, `memory of ${domain.memoryKiB} KiB, below 1 MiB`, 'give the guest memory in KiB in <memory>');
  if (domain.currentMemoryKiB > domain.memoryKiB) refuse(domain, `<currentMemory> ${domain.currentMemoryKiB} KiB is more than <memory> ${domain.memoryKiB} KiB`, 'make <currentMemory> at most <memory>');
  if (domain.memoryKiB * 1024 > host.memoryBytes) {
    refuse(domain, `memory of ${domain.memoryKiB} KiB is more than this host has (${Math.floor(host.memoryBytes / 1024)} KiB)`, 'give the guest less memory');
  }

  const targets = new Map<string, string>();
  const byImage = new Map<string, Domain['devices']['disks'][number][]>();
  for (const d of disks) {
    const prev = targets.get(d.targetDev);
    if (prev !== undefined) refuse(domain, `disk target ${d.targetDev} is used twice (${prev} and ${d.sourcePath ?? 'an empty drive'})`, 'give each disk its own <target dev>');
    targets.set(d.targetDev, d.sourcePath ?? 'an empty drive');
    if (d.sourcePath === undefined) continue;
    checkPath(domain, d.sourcePath, `disk ${d.targetDev}: image`);
    if (d.backingStore !== undefined) checkPath(domain, d.backingStore.path, `disk ${d.targetDev}: backing store`);
    byImage.set(d.sourcePath, [...(byImage.get(d.sourcePath) ?? []), d]);
  }
  // One image behind two disks is corrupted by the first write, unless none of them writes
  // or all of them are marked shareable.
  for (const [image, users] of byImage) {
    if (users.length > 1 && !users.every((d) => d.readonly) && !users.every((d) => d.shareable)) {
      refuse(domain, `image ${image} is used by disks ${users.map((d) => d.targetDev).join(' and ')}`, 'give each disk its own image, or mark them all <readonly/> or all <shareable/>');
    }
  }
  for (const [what, path] of [['kernel', domain.os.kernel], ['initrd', domain.os.initrd]] as const) {
    if (path !== undefined) checkPath(domain, path, what);
  }

  const macs = new Map<string, number>();
  interfaces.forEach((n, i) => {
    if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(n.mac)) refuse(domain, `interface ${i + 1}: MAC address ${n.mac} is malformed`, 'write it as six hex pairs, e.g. 52:54:00:12:34:56');
    if (parseInt(n.mac.slice(0, 2), 16) & 1) refuse(domain, `interface ${i + 1}: MAC address ${n.mac} is a multicast address`, 'use a unicast address (the lowest bit of the first octet clear), e.g. 52:54:00:...');
    if (n.mac === '00:00:00:00:00:00') refuse(domain, `interface ${i + 1}: MAC address ${n.mac} is all zeros`, 'use a real address, e.g. 52:54:00:...');
    const prev = macs.get(n.mac);
    if (prev !== undefined) refuse(domain, `interfaces ${prev} and ${i + 1} have the same MAC address ${n.mac}`, 'give each interface its own MAC address');
    macs.set(n.mac, i + 1);
  });
}
