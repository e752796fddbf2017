// Renders a Domain as libvirt domain XML (https://libvirt.org/formatdomain.html), laid
// out as virt-install prints it (element order, two-space indent, double quotes) so the
// two diff cleanly. Pure: no I/O. Things libvirt fills in itself (emulator path, PCI
// addresses, USB/PCIe controllers) are left out; a virtio-scsi controller is written when
// a disk sits on the SCSI bus, as virt-install does. Lifecycle actions are written only
// when they differ from libvirt's defaults.
import { DEFAULT_FORWARD_ADDRESS } from '../../vm/net/port-forward.js';
import { DEFAULT_LIFECYCLE, type CharDevice, type Disk, type Domain, type NetworkInterface } from '../model.js';

export const LIBOSINFO_NS = 'http://libosinfo.org/xmlns/libvirt/domain/1.0';

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

type Attrs = ReadonlyArray<readonly [string, string | number | undefined]>;

class XmlWriter {
  private readonly lines: string[] = [];
  private depth = 0;

  private attrs(a: Attrs): string {
    return a.filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`).join('');
  }
  empty(tag: string, a: Attrs = []): void {
    this.lines.push(`${'  '.repeat(this.depth)}<${tag}${this.attrs(a)}/>`);
  }
  text(tag: string, value: string | number, a: Attrs = []): void {
    this.lines.push(`${'  '.repeat(this.depth)}<${tag}${this.attrs(a)}>${escapeXml(String(value))}</${tag}>`);
  }
  open(tag: string, a: Attrs = []): void {
    this.lines.push(`${'  '.repeat(this.depth)}<${tag}${this.attrs(a)}>`);
    this.depth++;
  }
  close(tag: string): void {
    this.depth--;
    this.lines.push(`${'  '.repeat(this.depth)}</${tag}>`);
  }
  toString(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

function renderDisk(w: XmlWriter, d: Disk): void {
  w.open('disk', [['type', 'file'], ['device', d.device]]);
  w.empty('driver', [['name', 'qemu'], ['type', d.format], ['cache', d.cache], ['discard', d.discardUnmap ? 'unmap' : undefined]]);
  if (d.sourcePath !== undefined) w.empty('source', [['file', d.sourcePath]]);
  if (d.backingStore !== undefined) {
    // libvirt's user-specified backing chain: one level, the store the user named.
    w.open('backingStore', [['type', 'file']]);
    w.empty('format', [['type', d.backingStore.format]]);
    w.empty('source', [['file', d.backingStore.path]]);
    w.close('backingStore');
  }
  w.empty('target', [['dev', d.targetDev], ['bus', d.bus]]);
  if (d.serial !== undefined) w.text('serial', d.serial);
  if (d.readonly) w.empty('readonly');
  if (d.shareable) w.empty('shareable');
  if (d.bootOrder !== undefined) w.empty('boot', [['order', d.bootOrder]]);
  w.close('disk');
}

function renderInterface(w: XmlWriter, n: NetworkInterface): void {
  w.open('interface', [['type', n.type]]);
  if (n.type === 'bridge') w.empty('source', [['bridge', n.source]]);
  if (n.type === 'network') w.empty('source', [['network', n.source]]);
  w.empty('mac', [['address', n.mac]]);
  w.empty('model', [['type', n.model]]);
  if (n.bootOrder !== undefined) w.empty('boot', [['order', n.bootOrder]]);
  if (n.portForwards?.length) {
    // libvirt forwards ports only with the passt backend; the address is written out
    // because passt's default (every address) is wider than tsvirt's (127.0.0.1).
    w.empty('backend', [['type', 'passt']]);
    for (const f of n.portForwards) {
      w.open('portForward', [['proto', f.proto], ['address', f.address ?? DEFAULT_FORWARD_ADDRESS]]);
      for (const r of f.ranges) w.empty('range', [['start', r.start], ['end', r.end], ['to', r.to], ['exclude', r.exclude === undefined ? undefined : r.exclude ? 'yes' : 'no']]);
      w.close('portForward');
    }
  }
  w.close('interface');
}

function renderChar(w: XmlWriter, tag: 'serial' | 'console', c: CharDevice): void {
  if (c.type === 'pty') {
    w.empty(tag, [['type', 'pty']]);
    return;
  }
  w.open(tag, [['type', 'file']]);
  w.empty('source', [['path', c.path]]);
  w.close(tag);
}

export function renderDomainXml(d: Domain): string {
  const w = new XmlWriter();
  w.open('domain', [['type', d.type]]);
  w.text('name', d.name);
  w.text('uuid', d.uuid);
  if (d.osinfo !== undefined) {
    w.open('metadata');
    w.open('libosinfo:libosinfo', [['xmlns:libosinfo', LIBOSINFO_NS]]);
    w.empty('libosinfo:os', [['id', d.osinfo]]);
    w.close('libosinfo:libosinfo');
    w.close('metadata');
  }
  w.text('memory', d.memoryKiB);
  w.text('currentMemory', d.currentMemoryKiB);
  w.text('vcpu', d.vcpusMax, [['current', d.vcpusCurrent !== d.vcpusMax ? d.vcpusCurrent : undefined]]);
  w.open('os');
  w.text('type', d.os.type, [['arch', d.os.arch], ['machine', d.os.machine]]);
  if (d.os.kernel !== undefined) w.text('kernel', d.os.kernel);
  if (d.os.initrd !== undefined) w.text('initrd', d.os.initrd);
  if (d.os.cmdline !== undefined) w.text('cmdline', d.os.cmdline);
  for (const dev of d.os.bootOrder) w.empty('boot', [['dev', dev]]);
  w.close('os');
  if (d.features.acpi || d.features.apic || d.features.pae) {
    w.open('features');
    if (d.features.acpi) w.empty('acpi');
    if (d.features.apic) w.empty('apic');
    if (d.features.pae) w.empty('pae');
    w.close('features');
  }
  if (d.cpu) {
    const cpuAttrs: Attrs = [['mode', d.cpu.mode], ['match', d.cpu.mode === 'custom' ? 'exact' : undefined]];
    if (d.cpu.model === undefined && d.cpu.topology === undefined) {
      w.empty('cpu', cpuAttrs);
    } else {
      w.open('cpu', cpuAttrs);
      if (d.cpu.model !== undefined) w.text('model', d.cpu.model);
      const t = d.cpu.topology;
      if (t) w.empty('topology', [['sockets', t.sockets], ['dies', t.dies], ['cores', t.cores], ['threads', t.threads]]);
      w.close('cpu');
    }
  }
  if (d.clock.timers.length === 0) {
    w.empty('clock', [['offset', d.clock.offset]]);
  } else {
    w.open('clock', [['offset', d.clock.offset]]);
    for (const t of d.clock.timers) {
      w.empty('timer', [['name', t.name], ['tickpolicy', t.tickpolicy], ['present', t.present === undefined ? undefined : t.present ? 'yes' : 'no']]);
    }
    w.close('clock');
  }
  w.open('devices');
  for (const disk of d.devices.disks) renderDisk(w, disk);
  if (d.devices.disks.some((disk) => disk.bus === 'scsi')) w.empty('controller', [['type', 'scsi'], ['model', 'virtio-scsi']]);
  for (const n of d.devices.interfaces) renderInterface(w, n);
  for (const s of d.devices.serials) renderChar(w, 'serial', s);
  for (const c of d.devices.consoles) renderChar(w, 'console', c);
  for (const g of d.devices.graphics) {
    if (g.type === 'vnc') w.empty('graphics', [['type', 'vnc'], ['port', -1]]);
    else w.empty('graphics', [['type', 'spice'], ['port', -1], ['tlsPort', -1], ['autoport', 'yes']]);
  }
  for (const r of d.devices.rng) {
    w.open('rng', [['model', r.model]]);
    w.text('backend', r.backendPath, [['model', 'random']]);
    w.close('rng');
  }
  w.close('devices');
  if (d.lifecycle.onPoweroff !== DEFAULT_LIFECYCLE.onPoweroff) w.text('on_poweroff', d.lifecycle.onPoweroff);
  if (d.lifecycle.onReboot !== DEFAULT_LIFECYCLE.onReboot) w.text('on_reboot', d.lifecycle.onReboot);
  if (d.lifecycle.onCrash !== DEFAULT_LIFECYCLE.onCrash) w.text('on_crash', d.lifecycle.onCrash);
  w.close('domain');
  return w.toString();
}
