// A KVM virtual machine driven from TypeScript, as the seeds describe a userspace VMM:
// open /dev/kvm, check the API version and the extensions used, KVM_CREATE_VM, back
// guest RAM with anonymous mmap and register it as memory slots around the PCI hole,
// create the in-kernel irqchip (PIC + IOAPIC + LAPIC) and PIT, then create vCPUs.
// The RAM is exposed as the same GuestMemory the loader and devices use everywhere else
// (koffi.view turns the mapping into an ArrayBuffer, no copy).
//
// vCPUs beyond the first wait for INIT/SIPI in the in-kernel LAPIC (KVM makes every vCPU
// but 0 start in KVM_MP_STATE_UNINITIALIZED). Left out for now: ioeventfd/irqfd fast paths, dirty logging, MSI routes in the GSI table (MSI goes
// through KVM_SIGNAL_MSI).
import { TsvirtError } from '../../../lib/errors.js';
import type { IoBus } from '../../bus.js';
import type { IrqLine, MsiSink } from '../../irq.js';
import { BufferGuestMemory, pcRamLayout } from '../../memory.js';
import * as abi from './abi.js';
import { buildCpuid, type CpuidEntry } from './cpuid.js';
import { KvmVcpu } from './kvm-vcpu.js';
import * as libc from './libc.js';

export interface KvmVmOptions {
  memoryBytes: number;
  /** Total vCPUs of the guest (CPUID topology); create them in order with createVcpu. */
  vcpus?: number;
  /** In-kernel PIC/IOAPIC/LAPIC/PIT (default true). Without it HLT exits to userspace. */
  irqchip?: boolean;
  /** For tests of the error paths. */
  devicePath?: string;
  /** KVM_CREATE_VM's machine type argument; 0 is the default x86 VM. */
  machineType?: number;
}

// Below 4 GiB, outside RAM and every MMIO range: the addresses QEMU uses.
const TSS_ADDR = 0xfeffd000; // three pages for the real-mode TSS VMX needs
const IDENTITY_MAP_ADDR = 0xfeffc000; // one page for the unrestricted-guest identity map

const HINT = 'use --virt-type qemu to run on the software CPU';

function kvmError(what: string, code: number, hint = HINT): TsvirtError {
  return new TsvirtError(`${what}: ${libc.describeErrno(code)}`, hint);
}

/** Opens /dev/kvm and checks the API; errors name the cause and the fix. */
export function openKvm(devicePath = '/dev/kvm'): number {
  const fd = libc.open(devicePath, libc.O_RDWR | libc.O_CLOEXEC);
  if (fd < 0) {
    const code = libc.errno();
    if (code === libc.ENOENT || code === libc.ENODEV) {
      throw new TsvirtError(
        `KVM is not available: ${devicePath} does not exist`,
        `load the kvm_intel or kvm_amd module if the CPU has VT-x/AMD-V, or ${HINT}`,
      );
    }
    if (code === libc.EACCES || code === libc.EPERM) {
      throw new TsvirtError(
        `KVM is not permitted: cannot open ${devicePath} (permission denied)`,
        `add your user to the group owning ${devicePath} (usually kvm), or ${HINT}`,
      );
    }
    throw kvmError(`cannot open ${devicePath}`, code);
  }
  const version = libc.ioctlInt(fd, abi.KVM_GET_API_VERSION, 0);
  if (version !== abi.KVM_API_VERSION) {
    libc.close(fd);
    if (version < 0) throw new TsvirtError(`${devicePath} is not a KVM device (KVM_GET_API_VERSION failed)`, HINT);
    throw new TsvirtError(`${devicePath} speaks KVM API ${version}, tsvirt needs ${abi.KVM_API_VERSION}`, HINT);
  }
  return fd;
}

/**
 * Checks, before anything is created, that a guest with `vcpus` vCPUs can run on KVM here:
 * /dev/kvm opens read-write, speaks API 12 and allows that many vCPUs. Throws TsvirtError
 * naming cause and fix.
 */
export function checkKvmUsable(opts: { vcpus: number; devicePath?: string }): void {
  const fd = openKvm(opts.devicePath);
  try {
    const max = maxVcpus(fd);
    if (opts.vcpus > max) throw new TsvirtError(`this host's KVM runs at most ${max} vCPUs per guest, not ${opts.vcpus}`, `use --vcpus ${max} or fewer`);
  } finally {
    libc.close(fd);
  }
}

/** KVM_CAP_MAX_VCPUS; the API says to assume 4 when the extension is absent (0). */
function maxVcpus(kvmFd: number): number {
  const n = libc.ioctlInt(kvmFd, abi.KVM_CHECK_EXTENSION, abi.KVM_CAP_MAX_VCPUS);
  return n > 0 ? n : 4;
}

interface Mapping {
  ptr: unknown;
  sizeBytes: number;
}

export class KvmVm {
  readonly memory: BufferGuestMemory;
  readonly irqchip: boolean;
  readonly vcpuCount: number;
  private readonly mappings: Mapping[] = [];
  private readonly vcpus: KvmVcpu[] = [];
  private readonly supportedCpuid: CpuidEntry[];
  private readonly runMmapSize: number;
  private closed = false;

  private constructor(
    private readonly kvmFd: number,
    private readonly vmFd: number,
    opts: KvmVmOptions,
  ) {
    this.irqchip = opts.irqchip ?? true;
    this.vcpuCount = opts.vcpus ?? 1;
    this.runMmapSize = libc.ioctlInt(kvmFd, abi.KVM_GET_VCPU_MMAP_SIZE, 0);
    if (this.runMmapSize < 0x930) throw kvmError('KVM_GET_VCPU_MMAP_SIZE', libc.errno());
    this.supportedCpuid = readSupportedCpuid(kvmFd);
    this.memory = this.mapRam(opts.memoryBytes);
    if (libc.ioctlInt(vmFd, abi.KVM_SET_TSS_ADDR, TSS_ADDR) < 0) throw kvmError('KVM_SET_TSS_ADDR', libc.errno());
    const idmap = new BigUint64Array([BigInt(IDENTITY_MAP_ADDR)]);
    if (libc.ioctlPtr(vmFd, abi.KVM_SET_IDENTITY_MAP_ADDR, idmap) < 0) {
      throw kvmError('KVM_SET_IDENTITY_MAP_ADDR', libc.errno());
    }
    if (this.irqchip) {
      if (libc.ioctlInt(vmFd, abi.KVM_CREATE_IRQCHIP, 0) < 0) throw kvmError('KVM_CREATE_IRQCHIP', libc.errno());
      const pit = new Uint8Array(64);
      new DataView(pit.buffer).setUint32(0, abi.KVM_PIT_SPEAKER_DUMMY, true);
      if (libc.ioctlPtr(vmFd, abi.KVM_CREATE_PIT2, pit) < 0) throw kvmError('KVM_CREATE_PIT2', libc.errno());
      this.setPcIrqRouting();
    }
  }

  /**
   * GSI routes as the PC's ACPI tables describe them (MADT interrupt source override
   * IRQ0 -> GSI 2): GSI n < 16 reaches i8259 pin n and IOAPIC pin n, except that GSI 0
   * (the PIT, also what the in-kernel PIT raises) lands on IOAPIC pin 2 and GSI 2 (the
   * cascade) has no route; GSIs 16-23 (PCI INTx) reach the IOAPIC only. KVM's default
   * table would send GSI 0 to IOAPIC pin 0, where the guest does not look for its timer.
   */
  private setPcIrqRouting(): void {
    const routes: Array<[gsi: number, chip: number, pin: number]> = [];
    for (let gsi = 0; gsi < 16; gsi++) {
      if (gsi === 2) continue;
      routes.push([gsi, gsi < 8 ? abi.KVM_IRQCHIP_PIC_MASTER : abi.KVM_IRQCHIP_PIC_SLAVE, gsi & 7]);
    }
    for (let gsi = 0; gsi < 24; gsi++) {
      if (gsi === 2) continue;
      routes.push([gsi, abi.KVM_IRQCHIP_IOAPIC, gsi === 0 ? 2 : gsi]);
    }
    const buf = new Uint8Array(8 + routes.length * abi.IRQ_ROUTING_ENTRY_SIZE);
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, routes.length, true);
    routes.forEach(([gsi, chip, pin], i) => {
      const o = 8 + i * abi.IRQ_ROUTING_ENTRY_SIZE;
      dv.setUint32(o, gsi, true);
      dv.setUint32(o + 4, abi.KVM_IRQ_ROUTING_IRQCHIP, true);
      dv.setUint32(o + 16, chip, true);
      dv.setUint32(o + 20, pin, true);
    });
    if (libc.ioctlPtr(this.vmFd, abi.KVM_SET_GSI_ROUTING, buf) < 0) throw kvmError('KVM_SET_GSI_ROUTING', libc.errno());
  }

  static create(opts: KvmVmOptions): KvmVm {
    const kvmFd = openKvm(opts.devicePath);
    let vmFd = -1;
    try {
      for (const [cap, name] of abi.REQUIRED_CAPS) {
        if (libc.ioctlInt(kvmFd, abi.KVM_CHECK_EXTENSION, cap) <= 0) {
          throw new TsvirtError(`this kernel's KVM lacks ${name}, which tsvirt needs`, HINT);
        }
      }
      if ((opts.irqchip ?? true) && libc.ioctlInt(kvmFd, abi.KVM_CHECK_EXTENSION, abi.KVM_CAP_PIT2) <= 0) {
        throw new TsvirtError("this kernel's KVM lacks KVM_CAP_PIT2 (in-kernel PIT)", HINT);
      }
      if ((opts.irqchip ?? true) && libc.ioctlInt(kvmFd, abi.KVM_CHECK_EXTENSION, abi.KVM_CAP_IRQ_ROUTING) <= 0) {
        throw new TsvirtError("this kernel's KVM lacks KVM_CAP_IRQ_ROUTING", HINT);
      }
      vmFd = libc.ioctlInt(kvmFd, abi.KVM_CREATE_VM, opts.machineType ?? 0);
      if (vmFd < 0) {
        const code = libc.errno();
        throw new TsvirtError(
          `KVM_CREATE_VM failed: ${libc.describeErrno(code)}`,
          code === libc.EBUSY
            ? `another hypervisor (VirtualBox, VMware) may hold VT-x/AMD-V; stop it, or ${HINT}`
            : `check dmesg for kvm messages (VT-x/AMD-V disabled in firmware, or held by another hypervisor), or ${HINT}`,
        );
      }
      return new KvmVm(kvmFd, vmFd, opts);
    } catch (err) {
      if (vmFd >= 0) libc.close(vmFd);
      libc.close(kvmFd);
      throw err;
    }
  }

  private mapRam(memoryBytes: number): BufferGuestMemory {
    const regions = pcRamLayout(memoryBytes).map((r, slot) => {
      const ptr = libc.mmap(
        null,
        r.sizeBytes,
        libc.PROT_READ | libc.PROT_WRITE,
        libc.MAP_PRIVATE | libc.MAP_ANONYMOUS | libc.MAP_NORESERVE,
        -1,
        0,
      );
      if (libc.isMapFailed(ptr)) throw kvmError(`cannot map ${r.sizeBytes} bytes of guest RAM`, libc.errno(), 'use less --memory');
      this.mappings.push({ ptr, sizeBytes: r.sizeBytes });
      // struct kvm_userspace_memory_region { u32 slot, flags; u64 guest_phys_addr, memory_size, userspace_addr }
      const region = new Uint8Array(32);
      const dv = new DataView(region.buffer);
      dv.setUint32(0, slot, true);
      dv.setBigUint64(8, BigInt(r.gpa), true);
      dv.setBigUint64(16, BigInt(r.sizeBytes), true);
      dv.setBigUint64(24, libc.address(ptr), true);
      if (libc.ioctlPtr(this.vmFd, abi.KVM_SET_USER_MEMORY_REGION, region) < 0) {
        throw kvmError('KVM_SET_USER_MEMORY_REGION', libc.errno());
      }
      return { gpa: r.gpa, bytes: new Uint8Array(libc.view(ptr, r.sizeBytes)) };
    });
    return new BufferGuestMemory(regions);
  }

  /** An interrupt line into the in-kernel PIC/IOAPIC at a GSI (ISA IRQs 0-15 = GSIs 0-15). */
  irqLine(gsi: number): IrqLine {
    if (!this.irqchip) throw new Error('irqLine needs the in-kernel irqchip');
    const level = new Uint32Array(2);
    const set = (value: number): void => {
      level[0] = gsi;
      level[1] = value;
      if (libc.ioctlPtr(this.vmFd, abi.KVM_IRQ_LINE, level) < 0) {
        throw new Error(`KVM_IRQ_LINE gsi ${gsi}: ${libc.describeErrno(libc.errno())}`);
      }
    };
    return { raise: () => set(1), lower: () => set(0) };
  }

  /** MSI writes (virtio MSI-X) go straight to the in-kernel LAPICs. */
  readonly msi: MsiSink = {
    sendMsi: (address: bigint, data: number): void => {
      // struct kvm_msi { u32 address_lo, address_hi, data, flags, devid; u8 pad[12] }
      const msi = new Uint32Array(8);
      msi[0] = Number(address & 0xffff_ffffn);
      msi[1] = Number((address >> 32n) & 0xffff_ffffn);
      msi[2] = data >>> 0;
      if (libc.ioctlPtr(this.vmFd, abi.KVM_SIGNAL_MSI, msi) < 0) {
        throw new Error(`KVM_SIGNAL_MSI: ${libc.describeErrno(libc.errno())}`);
      }
    },
  };

  createVcpu(index: number, bus: IoBus): KvmVcpu {
    if (index !== this.vcpus.length || index >= this.vcpuCount) throw new Error(`vCPU ${index} created out of order (have ${this.vcpus.length} of ${this.vcpuCount})`);
    const fd = libc.ioctlInt(this.vmFd, abi.KVM_CREATE_VCPU, index);
    if (fd < 0) throw kvmError(`KVM_CREATE_VCPU ${index}`, libc.errno());
    const run = libc.mmap(null, this.runMmapSize, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_SHARED, fd, 0);
    if (libc.isMapFailed(run)) {
      libc.close(fd);
      throw kvmError('mmap of kvm_run', libc.errno());
    }
    this.mappings.push({ ptr: run, sizeBytes: this.runMmapSize });
    const vcpu = new KvmVcpu(index, fd, new Uint8Array(libc.view(run, this.runMmapSize)), bus);
    vcpu.setCpuid(buildCpuid(this.supportedCpuid, { apicId: index, vcpus: this.vcpuCount }));
    this.vcpus.push(vcpu);
    return vcpu;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const v of this.vcpus) v.close();
    libc.close(this.vmFd);
    libc.close(this.kvmFd);
    for (const m of this.mappings) libc.munmap(m.ptr, m.sizeBytes);
  }
}

function readSupportedCpuid(kvmFd: number): CpuidEntry[] {
  // struct kvm_cpuid2 { u32 nent, padding; struct kvm_cpuid_entry2 entries[nent] };
  // E2BIG means "more entries than you made room for": grow and ask again.
  for (let nent = 64; nent <= 4096; nent *= 2) {
    const buf = new Uint8Array(8 + nent * abi.CPUID_ENTRY_SIZE);
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, nent, true);
    if (libc.ioctlPtr(kvmFd, abi.KVM_GET_SUPPORTED_CPUID, buf) < 0) {
      const code = libc.errno();
      if (code === libc.E2BIG) continue;
      throw kvmError('KVM_GET_SUPPORTED_CPUID', code);
    }
    const n = dv.getUint32(0, true);
    const entries: CpuidEntry[] = [];
    for (let i = 0; i < n; i++) {
      const o = 8 + i * abi.CPUID_ENTRY_SIZE;
      entries.push({
        function: dv.getUint32(o, true),
        index: dv.getUint32(o + 4, true),
        flags: dv.getUint32(o + 8, true),
        eax: dv.getUint32(o + 12, true),
        ebx: dv.getUint32(o + 16, true),
        ecx: dv.getUint32(o + 20, true),
        edx: dv.getUint32(o + 24, true),
      });
    }
    return entries;
  }
  throw new TsvirtError('KVM_GET_SUPPORTED_CPUID reports an absurd number of leaves', HINT);
}
