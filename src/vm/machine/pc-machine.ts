// The PC this VM core builds (ARCHITECTURE.md "vm/machine"): guest RAM around the PCI
// hole, the IoBus with the legacy devices at their ISA addresses, an i8259 pair and an
// IOAPIC behind one ISA wiring, a LAPIC per vCPU on an APIC bus, the PCI host bridge
// (mechanism #1 and ECAM) with the functions the config asks for, ACPI tables and the
// Linux kernel loaded for direct boot; then the run loop. The loop runs vCPUs
// round-robin in budget slices, services the timers between slices, sleeps until the
// next timer deadline when every vCPU is halted (never busy-spins), and ends on ACPI
// power-off, a reset request, a triple fault or a CPU error. It runs in whatever thread
// creates it; run-machine.ts puts it in a worker.
//
// With accelerator 'kvm' (issue 9) the same devices, ACPI tables and loader run around a
// KVM vCPU instead: guest RAM is the KVM mapping, and the interrupt controllers and the
// PIT are KVM's in-kernel ones (i8259 pair + ELCR, IOAPIC, LAPIC, i8254 and the port 0x61
// dummy speaker), so tsvirt's own are not built and nothing is registered on the IoBus
// for their ranges; device interrupt lines become KVM_IRQ_LINE, MSI-X KVM_SIGNAL_MSI.
// The devices stay in this thread (no locks: an exit is a synchronous IoBus call). One
// vCPU runs here too, a periodic signal (VcpuTicker) bringing it back from KVM_RUN so the
// event loop, the RTC and the console get their turn. Several vCPUs each run KVM_RUN in a
// thread of their own (accel/kvm/vcpu-thread.ts) and hand their exits to this thread,
// which serves them and sleeps on the hand-off word between chores; the APs are started
// by the guest through the in-kernel LAPIC (INIT/SIPI).

import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { checkKvmUsable, KvmVm } from '../accel/kvm/kvm-vm.js';
import type { KvmVcpu } from '../accel/kvm/kvm-vcpu.js';
import { VcpuTicker } from '../accel/kvm/vcpu-ticker.js';
import {
  controlBytes, DOORBELL, errnoSlot, stateSlot, VCPU_EXITED, VCPU_RESUME, VCPU_STOP, vcpuThreadUrl, type VcpuThreadData,
} from '../accel/kvm/vcpu-handoff.js';
import { IoBus, type AccessSize, type MmioDevice } from '../bus.js';
import { HostClock, type VirtualClock } from '../clock.js';
import { Cpu } from '../cpu/index.js';
import type { IrqLine, MsiSink } from '../irq.js';
import { BufferGuestMemory, PCI_HOLE_START } from '../memory.js';
import type { RegisterDump, VcpuExit } from '../vcpu.js';
import { AcpiPm, ACPI_PM_BLOCK_BYTES, PM1_CNT_OFFSET, PM1_STS_OFFSET, PM_TMR_OFFSET } from '../devices/acpi-pm.js';
import { ApicBus } from '../devices/apic-bus.js';
import { CmosRtc, RTC_CENTURY } from '../devices/cmos-rtc.js';
import { I8042 } from '../devices/i8042.js';
import { I8254Pit } from '../devices/i8254-pit.js';
import { I8259Pair } from '../devices/i8259-pic.js';
import { Ioapic } from '../devices/ioapic.js';
import { APIC_DEFAULT_BASE, Lapic } from '../devices/lapic.js';
import { Port80 } from '../devices/port80.js';
import { ResetControl, RST_CNT_RST_CPU, RST_CNT_SYS_RST } from '../devices/reset-control.js';
import type { TimerSource } from '../devices/timer.js';
import { Uart16550 } from '../devices/uart16550.js';
import { HostBridgeFunction } from '../devices/pci/host-bridge-function.js';
import { pciIntxGsi } from '../devices/pci/intx-routing.js';
import type { PciAddress, PciFunction } from '../devices/pci/pci-function.js';
import { ECAM_BUS_BYTES, PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_PORTS, PciHost } from '../devices/pci/pci-host.js';
import { ACPI_TABLES_ADDR, buildAcpiTables } from '../boot/acpi-tables.js';
import { buildE820 } from '../boot/e820.js';
import { loadLinux, type LoadedKernel } from '../boot/linux-loader.js';
import type { MachineConfig, MachineExitKind, MachineResult } from './machine-config.js';
import { IsaIrqs, KvmIsaIrqs, type IsaInterrupts } from './isa-irqs.js';
import { assignPciResources } from './pci-firmware.js';

export const COM1_PORT = 0x3f8;
export const COM2_PORT = 0x2f8;
export const IOAPIC_BASE = 0xfec0_0000;
export const ACPI_PM_PORT = 0x600;
export const ECAM_BASE = PCI_HOLE_START;
export const PCI_MMIO32_WINDOW = { base: 0xc000_0000, end: 0xfebf_ffff };
export const PCI_IO_WINDOW = { base: 0x1000, end: 0xffff };
export const SCI_IRQ = 9;
export const MAX_VCPUS = 64;
/** Instructions per vCPU per round at most, and at least (to amortise the round's cost). */
const MAX_SLICE_INSTRUCTIONS = 50_000;
const MIN_SLICE_INSTRUCTIONS = 1_000;
/** Wall time between yields to the event loop while the guest is busy. */
const YIELD_EVERY_MS = 15;
const CONSOLE_TAIL_BYTES = 8192;
/** How often a KVM vCPU is brought back from KVM_RUN for the event loop and userspace timers. */
const KVM_TICK_MS = 10;

export interface MachineIo {
  /** Bytes the guest wrote to COM1. */
  onSerial?: (bytes: Uint8Array) => void;
  clock?: VirtualClock;
  /** Debug log (guest errors, unclaimed accesses are not logged by default). */
  log?: (message: string) => void;
}

export interface AttachedPciFunction {
  address: PciAddress;
  fn: PciFunction;
}

/** What a PCI function factory gets: the VirtioPlatform shape plus its address. */
export interface PciPlatform {
  bus: IoBus;
  mem: BufferGuestMemory;
  irq: IrqLine;
  msi: MsiSink;
  log?: (message: string) => void;
  address: PciAddress;
}

class LapicRouter implements MmioDevice {
  current: Lapic;
  constructor(first: Lapic) {
    this.current = first;
  }
  mmioRead(offset: number, size: AccessSize): number {
    return this.current.mmioRead(offset, size);
  }
  mmioWrite(offset: number, size: AccessSize, value: number): void {
    this.current.mmioWrite(offset, size, value);
  }
}

function formatRegisters(r: RegisterDump): string {
  const h = (v: bigint) => '0x' + v.toString(16).padStart(16, '0');
  const seg = (n: string, s: RegisterDump['cs']) => `${n}=${s.selector.toString(16).padStart(4, '0')} base=${h(s.base)} limit=${s.limit.toString(16)} attrs=${s.attrs.toString(16)}`;
  return [
    `RAX=${h(r.rax)} RBX=${h(r.rbx)} RCX=${h(r.rcx)} RDX=${h(r.rdx)}`,
    `RSI=${h(r.rsi)} RDI=${h(r.rdi)} RBP=${h(r.rbp)} RSP=${h(r.rsp)}`,
    `R8 =${h(r.r8)} R9 =${h(r.r9)} R10=${h(r.r10)} R11=${h(r.r11)}`,
    `R12=${h(r.r12)} R13=${h(r.r13)} R14=${h(r.r14)} R15=${h(r.r15)}`,
    `RIP=${h(r.rip)} RFL=${h(r.rflags)}`,
    seg('CS', r.cs), seg('SS', r.ss), seg('DS', r.ds), seg('TR', r.tr),
    `GDT=${h(r.gdt.base)}/${r.gdt.limit.toString(16)} IDT=${h(r.idt.base)}/${r.idt.limit.toString(16)}`,
    `CR0=${h(r.cr0)} CR2=${h(r.cr2)} CR3=${h(r.cr3)} CR4=${h(r.cr4)} EFER=${h(r.efer)}`,
  ].join('\n');
}

export class PcMachine {
  readonly mem: BufferGuestMemory;
  readonly bus = new IoBus();
  readonly clock: VirtualClock;
  readonly apicBus = new ApicBus();
  readonly accelerator: 'ts' | 'kvm';
  /** The KVM VM (accelerator 'kvm'); it owns guest RAM and the in-kernel irqchip and PIT. */
  readonly kvm?: KvmVm;
  /** tsvirt's interrupt controllers and PIT: the software CPU only (KVM has its own in the kernel). */
  readonly pic?: I8259Pair;
  readonly ioapic?: Ioapic;
  readonly isa: IsaInterrupts;
  readonly lapics: Lapic[] = [];
  readonly vcpus: Cpu[] = [];
  readonly kvmVcpus: KvmVcpu[] = [];
  readonly com1: Uart16550;
  readonly com2: Uart16550;
  readonly pit?: I8254Pit;
  readonly rtc: CmosRtc;
  readonly pm: AcpiPm;
  readonly pci: PciHost;
  readonly port80 = new Port80();
  readonly pciFunctions: AttachedPciFunction[] = [];
  kernel?: LoadedKernel;
  private readonly timers: TimerSource[] = [];
  private readonly lapicRouter?: LapicRouter;
  private readonly msi: MsiSink;
  private readonly apicIds: number[];
  private pending: MachineExitKind | undefined;
  private runningCpu: { kick(): void } | undefined;
  private wake: (() => void) | undefined;
  private readonly inputQueue: number[] = [];
  private outBytes: number[] = [];
  private tail = '';
  private stopRequested = false;

  constructor(readonly config: Omit<MachineConfig, 'kernel' | 'pciDevices'>, private readonly io: MachineIo = {}) {
    if (!Number.isInteger(config.vcpus) || config.vcpus < 1 || config.vcpus > MAX_VCPUS) {
      throw new RangeError(`vcpus must be 1-${MAX_VCPUS}, not ${config.vcpus}`);
    }
    this.clock = io.clock ?? new HostClock();
    this.accelerator = config.accelerator ?? 'ts';
    const clock = this.clock;

    if (this.accelerator === 'kvm') {
      checkKvmUsable({ vcpus: config.vcpus });
      const kvm = KvmVm.create({ memoryBytes: config.memoryBytes, vcpus: config.vcpus });
      this.kvm = kvm;
      this.mem = kvm.memory;
      this.isa = new KvmIsaIrqs((gsi) => kvm.irqLine(gsi));
      this.msi = kvm.msi;
      this.apicIds = [];
      try {
        for (let i = 0; i < config.vcpus; i++) {
          this.kvmVcpus.push(kvm.createVcpu(i, this.bus));
          this.apicIds.push(i); // KVM's initial APIC ID is the vCPU index
        }
      } catch (err) {
        kvm.close(); // nobody else holds the VM yet
        throw err;
      }
    } else {
      this.mem = BufferGuestMemory.allocate(config.memoryBytes);
      const pic = new I8259Pair(() => {
        this.lapics[0]?.picChanged();
        this.wakeUp();
      });
      const ioapic = new Ioapic(this.apicBus);
      this.pic = pic;
      this.ioapic = ioapic;
      this.isa = new IsaIrqs(pic, ioapic);
      this.msi = this.apicBus;
      this.apicIds = [];
    }

    for (let i = 0; this.accelerator === 'ts' && i < config.vcpus; i++) {
      const lapic = new Lapic(i, {
        apicBus: this.apicBus,
        clock,
        pic: i === 0 ? this.pic : undefined,
        onLevelEoi: (v) => this.ioapic!.eoi(v),
        onWake: () => this.wakeUp(),
        onNmi: () => this.vcpus[i].raiseNmi(),
        onInit: () => {
          if (i === 0) return; // an INIT to the BSP would restart the kernel: not supported
          lapic.reset();
          this.vcpus[i].init();
        },
        onStartup: (vector) => this.vcpus[i].startupIpi(vector),
      });
      this.apicBus.attach(lapic);
      this.lapics.push(lapic);
      this.timers.push(lapic);
      const cpu = new Cpu({ index: i, mem: this.mem, bus: this.bus, clock, interrupts: lapic });
      if (i !== 0) cpu.init(); // application processors wait for INIT/SIPI
      this.vcpus.push(cpu);
      this.apicIds.push(lapic.apicId);
    }
    if (this.accelerator === 'ts') {
      this.lapicRouter = new LapicRouter(this.lapics[0]);
      this.bus.registerMmio(APIC_DEFAULT_BASE, 0x1000, this.lapicRouter, 'lapic');
      this.bus.registerMmio(IOAPIC_BASE, 0x1000, this.ioapic!, 'ioapic');
    }

    this.com1 = new Uart16550(this.isa.line(4), (b) => this.serialByte(b));
    this.com2 = new Uart16550(this.isa.line(3), () => {});
    this.bus.registerPio(COM1_PORT, 8, this.com1, 'com1');
    this.bus.registerPio(COM2_PORT, 8, this.com2, 'com2');
    if (this.pic) {
      this.bus.registerPio(0x20, 2, this.pic.masterPorts, 'pic-master');
      this.bus.registerPio(0xa0, 2, this.pic.slavePorts, 'pic-slave');
      this.bus.registerPio(0x4d0, 2, this.pic.elcrPorts, 'elcr');
      this.pit = new I8254Pit(clock, this.isa.line(0));
      this.bus.registerPio(0x40, 4, this.pit, 'pit');
      this.bus.registerPio(0x61, 1, this.pit.portB, 'port61');
      this.timers.push(this.pit);
    }
    this.rtc = new CmosRtc(clock, this.isa.line(8));
    this.bus.registerPio(0x70, 2, this.rtc, 'rtc');
    this.timers.push(this.rtc);
    this.pm = new AcpiPm(clock, this.isa.line(SCI_IRQ), () => this.request('poweroff'));
    this.bus.registerPio(ACPI_PM_PORT, ACPI_PM_BLOCK_BYTES, this.pm, 'acpi-pm');
    const kbc = new I8042(() => this.request('reset'));
    this.bus.registerPio(0x60, 1, kbc.dataPort, 'i8042-data');
    this.bus.registerPio(0x64, 1, kbc.commandPort, 'i8042-cmd');
    this.bus.registerPio(0x80, 1, this.port80, 'port80');
    this.pci = new PciHost(new ResetControl(() => this.request('reset')));
    this.bus.registerPio(PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_PORTS, this.pci.configPorts, 'pci-config');
    this.bus.registerMmio(ECAM_BASE, ECAM_BUS_BYTES, this.pci.ecam, 'ecam');
    this.pci.register({ device: 0, function: 0 }, new HostBridgeFunction());
  }

  /** The platform a PCI function factory gets for `address` (INTA routed by the _PRT swizzle). */
  platformFor(address: PciAddress): PciPlatform {
    return { bus: this.bus, mem: this.mem, irq: this.isa.gsiLine(pciIntxGsi(address, 1)), msi: this.msi, log: this.io.log, address };
  }

  /** First free slot from 1 (00:00.0 is the host bridge). */
  nextFreeAddress(): PciAddress {
    const used = new Set(this.pci.addresses().map((a) => a.device));
    for (let d = 1; d < 32; d++) if (!used.has(d)) return { device: d, function: 0 };
    throw new Error('no free PCI slot on bus 0');
  }

  attachPci(address: PciAddress, fn: PciFunction & Partial<MmioDevice>): void {
    this.pci.register(address, fn);
    this.pciFunctions.push({ address, fn });
  }

  /** Builds ACPI tables and loads the kernel; sets the boot vCPU's registers. */
  loadKernel(kernel: Uint8Array, initrd: Uint8Array | undefined, cmdline: string, kernelName?: string): LoadedKernel {
    assignPciResources(this.pciFunctions, { mmio32: PCI_MMIO32_WINDOW, io: PCI_IO_WINDOW });
    const acpi = buildAcpiTables({
      apicIds: this.apicIds,
      ioapicAddr: IOAPIC_BASE,
      ioapicId: 0,
      lapicAddr: APIC_DEFAULT_BASE,
      pm1aEvtPort: ACPI_PM_PORT + PM1_STS_OFFSET,
      pm1aCntPort: ACPI_PM_PORT + PM1_CNT_OFFSET,
      pmTmrPort: ACPI_PM_PORT + PM_TMR_OFFSET,
      sciIrq: SCI_IRQ,
      resetPort: 0xcf9,
      resetValue: RST_CNT_SYS_RST | RST_CNT_RST_CPU,
      ecamBase: ECAM_BASE,
      ecamBytes: ECAM_BUS_BYTES,
      rtcCentury: RTC_CENTURY,
      pciMmio32: PCI_MMIO32_WINDOW,
      pciIo: PCI_IO_WINDOW,
    });
    this.mem.slice(ACPI_TABLES_ADDR, acpi.image.length).set(acpi.image);
    const e820 = buildE820({ regions: this.mem.regions, reserved: [{ addr: ECAM_BASE, size: ECAM_BUS_BYTES }] });
    const withConsole = /(^|\s)console=/.test(cmdline) ? cmdline : `${cmdline} console=ttyS0`.trim();
    this.kernel = loadLinux(this.mem, { kernel, initrd, cmdline: withConsole, e820, rsdpAddr: acpi.rsdpAddr, kernelName });
    (this.kvmVcpus[0] ?? this.vcpus[0]).setRegisters(this.kernel.registers);
    return this.kernel;
  }

  /** Releases what PCI functions own (images, network backends): their optional close(). */
  async close(): Promise<void> {
    try {
      for (const { fn } of this.pciFunctions) {
        const closable = fn as PciFunction & { close?: () => unknown };
        if (typeof closable.close === 'function') await closable.close();
      }
    } finally {
      // The vCPU threads must be out of KVM_RUN before their fds close, and the PCI
      // functions done with guest RAM before its mapping goes.
      this.stopVcpuThreads();
      await Promise.all(this.vcpuThreads.map((t) => t.exited));
      this.kvm?.close();
    }
  }

  /** Bytes for COM1's receiver (keyboard, pipe); fed as the FIFO drains. */
  feedSerial(bytes: Uint8Array): void {
    for (const b of bytes) this.inputQueue.push(b);
    this.wakeUp();
  }

  /** Ends run() with kind 'stopped' at the next slice boundary. */
  stop(): void {
    this.stopRequested = true;
    this.runningCpu?.kick();
    this.wakeUp();
  }

  private request(kind: MachineExitKind): void {
    if (!this.pending) this.pending = kind;
    this.runningCpu?.kick();
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private serialByte(b: number): void {
    this.outBytes.push(b);
    if (this.outBytes.length >= 4096) this.flushSerial();
  }

  private flushSerial(): void {
    if (this.outBytes.length === 0) return;
    const bytes = Uint8Array.from(this.outBytes);
    this.outBytes = [];
    this.tail = (this.tail + Buffer.from(bytes).toString('latin1')).slice(-CONSOLE_TAIL_BYTES);
    this.io.onSerial?.(bytes);
  }

  lastConsoleLines(n = 20): string[] {
    const lines = this.tail.replace(/\r/g, '').split('\n');
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    return lines.slice(-n);
  }

  private pumpInput(): void {
    let room = this.com1.rxSpace();
    while (room-- > 0 && this.inputQueue.length) this.com1.receive(this.inputQueue.shift()!);
  }

  private pollTimers(): void {
    const now = this.clock.nowNs();
    for (const t of this.timers) t.poll(now);
  }

  private nextDeadlineNs(): number {
    let d = Infinity;
    for (const t of this.timers) d = Math.min(d, t.nextDeadlineNs());
    return d;
  }

  private result(kind: MachineExitKind, extra: Partial<MachineResult> = {}): MachineResult {
    this.flushSerial();
    return {
      kind,
      lastConsoleLines: this.lastConsoleLines(),
      // KVM does not count retired instructions.
      instructionsRetired: this.kvm ? undefined : this.vcpus.reduce((n, c) => n + c.instructionsRetired, 0),
      ...extra,
    };
  }

  /** What a vCPU exit means for the machine: a crash result, or undefined to go on. */
  private onVcpuExit(exit: VcpuExit, index: number): MachineResult | undefined {
    switch (exit.kind) {
      case 'budget':
      case 'hlt':
        return undefined;
      case 'shutdown':
        this.request('poweroff');
        return undefined;
      case 'reset':
        this.request('reset');
        return undefined;
      default:
        return this.crash(exit, index);
    }
  }

  private crash(exit: VcpuExit, index: number): MachineResult {
    if (exit.kind === 'triple-fault') {
      return this.result('crash', { message: `vCPU ${index} triple-faulted`, registers: formatRegisters(exit.regs) });
    }
    const msg = exit.kind === 'error' ? exit.message : exit.kind;
    const regs = exit.kind === 'error' && exit.regs ? formatRegisters(exit.regs) : undefined;
    return this.result('crash', { message: `vCPU ${index} stopped: ${msg}`, registers: regs });
  }

  /**
   * The slice that ends about when the next timer is due, from the measured speed, so
   * timers are serviced near their deadlines even when the vCPU is slow.
   */
  private sliceInstructions(): number {
    const untilNs = this.nextDeadlineNs() - this.clock.nowNs();
    if (!Number.isFinite(untilNs)) return MAX_SLICE_INSTRUCTIONS;
    const n = Math.floor(untilNs * this.instructionsPerNs);
    return Math.max(MIN_SLICE_INSTRUCTIONS, Math.min(MAX_SLICE_INSTRUCTIONS, n));
  }

  private instructionsPerNs = 0.005; // 5 MIPS until measured

  async run(opts: { timeoutMs?: number } = {}): Promise<MachineResult> {
    if (this.kvm) return this.kvmVcpus.length === 1 ? this.runKvm(opts) : this.runKvmThreads(opts);
    const started = performance.now();
    let lastYield = started;
    for (;;) {
      let allHalted = true;
      const budget = this.sliceInstructions();
      const roundStartNs = this.clock.nowNs();
      const retiredBefore = this.vcpus.reduce((n, c) => n + c.instructionsRetired, 0);
      for (let i = 0; i < this.vcpus.length; i++) {
        const cpu = this.vcpus[i];
        this.lapicRouter!.current = this.lapics[i];
        this.runningCpu = cpu;
        const exit = cpu.run(budget);
        this.runningCpu = undefined;
        if (exit.kind === 'budget') allHalted = false;
        const crashed = this.onVcpuExit(exit, i);
        if (crashed) return crashed;
        if (this.pending) return this.result(this.pending);
      }
      if (this.stopRequested) return this.result('stopped');
      const roundNs = this.clock.nowNs() - roundStartNs;
      const retired = this.vcpus.reduce((n, c) => n + c.instructionsRetired, 0) - retiredBefore;
      if (!allHalted && roundNs > 100_000 && retired > 0) {
        this.instructionsPerNs = 0.8 * this.instructionsPerNs + 0.2 * (retired / this.vcpus.length / roundNs);
      }
      this.pollTimers();
      this.pumpInput();
      this.flushSerial();
      const now = performance.now();
      if (opts.timeoutMs !== undefined && now - started > opts.timeoutMs) return this.result('timeout');
      if (allHalted && !this.lapics.some((l) => l.hasInterrupt()) && this.inputQueue.length === 0) {
        // Every vCPU waits for an interrupt: sleep until the next timer deadline or a wake-up.
        const untilTimeout = opts.timeoutMs === undefined ? Infinity : opts.timeoutMs - (now - started);
        const waitMs = Math.min(Math.max(0, (this.nextDeadlineNs() - this.clock.nowNs()) / 1e6), 1000, untilTimeout);
        if (waitMs > 0.05) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(() => {
              this.wake = undefined;
              resolve();
            }, waitMs);
            this.wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
        }
        lastYield = performance.now();
      } else if (now - lastYield > YIELD_EVERY_MS) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
    }
  }

  /**
   * The KVM loop: KVM_RUN serves port I/O and MMIO exits on the IoBus itself and comes
   * back here on a request (power-off, reset: the device kicks it), a tick, or an exit the
   * machine must judge. The guest's HLT sleeps in the kernel (in-kernel LAPIC), so this
   * loop never has to sleep on its own.
   */
  private async runKvm(opts: { timeoutMs?: number }): Promise<MachineResult> {
    const started = performance.now();
    const vcpu = this.kvmVcpus[0];
    const ticker = new VcpuTicker(KVM_TICK_MS);
    try {
      for (;;) {
        this.runningCpu = vcpu;
        const exit = vcpu.run(0);
        this.runningCpu = undefined;
        const crashed = this.onVcpuExit(exit, vcpu.index);
        if (crashed) return crashed;
        if (this.pending) return this.result(this.pending);
        if (this.stopRequested) return this.result('stopped');
        this.pollTimers();
        this.pumpInput();
        this.flushSerial();
        if (opts.timeoutMs !== undefined && performance.now() - started > opts.timeoutMs) return this.result('timeout');
        // Console input, stop and the power button arrive as messages on this thread.
        await yieldToEventLoop();
      }
    } finally {
      ticker.stop();
    }
  }

  /** The device thread's loop for vCPUs in threads of their own (vcpu-handoff.ts). */
  private async runKvmThreads(opts: { timeoutMs?: number }): Promise<MachineResult> {
    const n = this.kvmVcpus.length;
    const control = new SharedArrayBuffer(controlBytes(n));
    const ctl = new Int32Array(control);
    let failure: Error | undefined;
    this.vcpuThreads = this.kvmVcpus.map((v) => {
      const w = new Worker(vcpuThreadUrl(), { workerData: { fd: v.fd, index: v.index, vcpus: n, control, tickMs: KVM_TICK_MS } satisfies VcpuThreadData });
      w.on('error', (e) => (failure ??= e));
      return { worker: w, exited: new Promise<void>((resolve) => w.once('exit', () => resolve())), control };
    });
    const started = performance.now();
    let lastYield = started;
    try {
      for (;;) {
        const bell = Atomics.load(ctl, DOORBELL);
        for (let i = 0; i < n; i++) {
          if (Atomics.load(ctl, stateSlot(i)) !== VCPU_EXITED) continue;
          const code = ctl[errnoSlot(i, n)];
          const exit: VcpuExit | undefined = code ? { kind: 'error', message: `KVM_RUN failed: errno ${code}` } : this.kvmVcpus[i].handleExit();
          const crashed = exit && this.onVcpuExit(exit, i);
          if (crashed) return crashed;
          if (Atomics.compareExchange(ctl, stateSlot(i), VCPU_EXITED, VCPU_RESUME) === VCPU_EXITED) Atomics.notify(ctl, stateSlot(i));
        }
        if (failure) throw failure;
        if (this.pending) return this.result(this.pending);
        if (this.stopRequested) return this.result('stopped');
        this.pollTimers();
        this.pumpInput();
        this.flushSerial();
        const now = performance.now();
        if (opts.timeoutMs !== undefined && now - started > opts.timeoutMs) return this.result('timeout');
        if (now - lastYield >= KVM_TICK_MS) {
          // Console input, stop and the power button arrive as messages on this thread.
          await yieldToEventLoop();
          lastYield = performance.now();
        } else if (Atomics.load(ctl, DOORBELL) === bell) {
          Atomics.wait(ctl, DOORBELL, bell, KVM_TICK_MS - (now - lastYield));
        }
      }
    } finally {
      this.stopVcpuThreads();
    }
  }

  private vcpuThreads: Array<{ worker: Worker; exited: Promise<void>; control: SharedArrayBuffer }> = [];

  /** Asks every vCPU thread to end; each sees STOP at its next exit or tick. */
  private stopVcpuThreads(): void {
    for (const t of this.vcpuThreads) {
      const ctl = new Int32Array(t.control);
      for (let i = 0; i < this.kvmVcpus.length; i++) {
        Atomics.store(ctl, stateSlot(i), VCPU_STOP);
        Atomics.notify(ctl, stateSlot(i));
      }
    }
  }
}

function readInput(v: string | Uint8Array): Uint8Array {
  return typeof v === 'string' ? readFileSync(v) : v;
}

/** Builds a machine from a config: devices from their factory modules, kernel loaded. */
export async function createMachine(config: MachineConfig, io: MachineIo = {}): Promise<PcMachine> {
  const m = new PcMachine(config, io);
  for (const spec of config.pciDevices ?? []) {
    const address = spec.address ?? m.nextFreeAddress();
    const mod = (await import(spec.module)) as Record<string, unknown>;
    const factory = mod[spec.exportName];
    if (typeof factory !== 'function') throw new Error(`${spec.module} has no function ${spec.exportName}`);
    const fn = (await factory(m.platformFor(address), spec.options)) as PciFunction;
    m.attachPci(address, fn);
  }
  const kernelName = typeof config.kernel === 'string' ? config.kernel : undefined;
  m.loadKernel(readInput(config.kernel), config.initrd ? readInput(config.initrd) : undefined, config.cmdline, kernelName);
  return m;
}
