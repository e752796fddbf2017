// One KVM vCPU: the KVM_RUN loop and register transfer (KVM API, "KVM_RUN" and struct
// kvm_run). Port I/O and MMIO exits are served by the same IoBus the software CPU uses;
// everything else becomes a VcpuExit with a clear message.
//
// Threading design (issue 9): the devices live in one thread, the machine's worker, so a
// device access is a synchronous call with no locking. With one vCPU its loop (run())
// runs in that thread too: a vCPU halted in the in-kernel LAPIC sleeps inside KVM_RUN,
// and kick() from the same thread (a device asking the loop to return) uses
// immediate_exit. With several, each vCPU enters KVM_RUN in a thread of its own
// (vcpu-thread.ts) and hands each exit to the device thread, which serves it here with
// handleExit() while that vCPU thread waits (vcpu-handoff.ts).
import type { IoBus } from '../../bus.js';
import type { RegisterDump, SegmentDump, Vcpu, VcpuExit } from '../../vcpu.js';
import * as abi from './abi.js';
import type { CpuidEntry } from './cpuid.js';
import * as libc from './libc.js';

const MSR_IA32_MISC_ENABLE = 0x1a0;
const MISC_ENABLE_FAST_STRING = 1n;

export class KvmVcpu implements Vcpu {
  private readonly run8: Uint8Array;
  private readonly runView: DataView;
  private readonly regsBuf = new Uint8Array(abi.REGS_SIZE);
  private readonly sregsBuf = new Uint8Array(abi.SREGS_SIZE);
  private kicked = false;
  private closed = false;
  /** Exits served, by reason; the bench and tests read it. */
  readonly exitCounts = new Map<number, number>();

  constructor(
    readonly index: number,
    /** The vCPU's file descriptor; a vCPU thread issues KVM_RUN on it (vcpu-thread.ts). */
    readonly fd: number,
    run: Uint8Array,
    private readonly bus: IoBus,
  ) {
    this.run8 = run;
    this.runView = new DataView(run.buffer, run.byteOffset, run.byteLength);
    this.setMsrs([[MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING]]);
  }

  setCpuid(entries: readonly CpuidEntry[]): void {
    const buf = new Uint8Array(8 + entries.length * abi.CPUID_ENTRY_SIZE);
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, entries.length, true);
    entries.forEach((e, i) => {
      const o = 8 + i * abi.CPUID_ENTRY_SIZE;
      dv.setUint32(o, e.function, true);
      dv.setUint32(o + 4, e.index, true);
      dv.setUint32(o + 8, e.flags, true);
      dv.setUint32(o + 12, e.eax, true);
      dv.setUint32(o + 16, e.ebx, true);
      dv.setUint32(o + 20, e.ecx, true);
      dv.setUint32(o + 24, e.edx, true);
    });
    this.check(libc.ioctlPtr(this.fd, abi.KVM_SET_CPUID2, buf), 'KVM_SET_CPUID2');
  }

  setMsrs(msrs: ReadonlyArray<[number, bigint]>): void {
    const buf = new Uint8Array(8 + msrs.length * abi.MSR_ENTRY_SIZE);
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, msrs.length, true);
    msrs.forEach(([index, value], i) => {
      dv.setUint32(8 + i * abi.MSR_ENTRY_SIZE, index, true);
      dv.setBigUint64(8 + i * abi.MSR_ENTRY_SIZE + 8, value, true);
    });
    // KVM_SET_MSRS returns how many it set; fewer means one was refused.
    const set = libc.ioctlPtr(this.fd, abi.KVM_SET_MSRS, buf);
    if (set !== msrs.length) throw new Error(`KVM_SET_MSRS set ${set} of ${msrs.length} MSRs`);
  }

  run(_budget: number): VcpuExit {
    // KVM has no instruction budget: the vCPU runs until an exit the machine must see,
    // or until kick().
    for (;;) {
      if (this.kicked) {
        this.kicked = false;
        this.run8[abi.RUN.immediateExit] = 0;
        return { kind: 'budget' };
      }
      if (libc.ioctlInt(this.fd, abi.KVM_RUN, 0) < 0) {
        const code = libc.errno();
        if (code === libc.EINTR || code === libc.EAGAIN) {
          this.run8[abi.RUN.immediateExit] = 0;
          this.kicked = false;
          return { kind: 'budget' };
        }
        return { kind: 'error', message: `KVM_RUN failed: ${libc.describeErrno(code)}` };
      }
      const exit = this.handleExit();
      if (exit) return exit;
    }
  }

  /**
   * Serves the exit KVM_RUN left in kvm_run: port I/O and MMIO on the IoBus (undefined:
   * run on), anything else as a VcpuExit. Also called by the device thread for a vCPU
   * that runs in its own thread (vcpu-thread.ts) while that thread waits.
   */
  handleExit(): VcpuExit | undefined {
    const rv = this.runView;
    const reason = rv.getUint32(abi.RUN.exitReason, true);
    this.exitCounts.set(reason, (this.exitCounts.get(reason) ?? 0) + 1);
    switch (reason) {
      case abi.KVM_EXIT_IO:
        this.serveIo();
        return undefined;
      case abi.KVM_EXIT_MMIO:
        this.serveMmio();
        return undefined;
      case abi.KVM_EXIT_HLT:
        return { kind: 'hlt' };
      case abi.KVM_EXIT_INTR:
        return { kind: 'budget' };
      case abi.KVM_EXIT_IRQ_WINDOW_OPEN:
        return undefined;
      case abi.KVM_EXIT_SHUTDOWN:
        // KVM reports a triple fault (or an INIT it cannot handle) as SHUTDOWN.
        return { kind: 'triple-fault', regs: this.getRegisters() };
      case abi.KVM_EXIT_SYSTEM_EVENT: {
        const type = rv.getUint32(abi.RUN.systemEventType, true);
        if (type === abi.KVM_SYSTEM_EVENT_SHUTDOWN) return { kind: 'shutdown' };
        if (type === abi.KVM_SYSTEM_EVENT_RESET) return { kind: 'reset' };
        return { kind: 'error', message: `KVM system event ${type === abi.KVM_SYSTEM_EVENT_CRASH ? 'crash' : type}`, regs: this.getRegisters() };
      }
      case abi.KVM_EXIT_FAIL_ENTRY: {
        const hw = rv.getBigUint64(abi.RUN.failEntryReason, true);
        return {
          kind: 'error',
          message: `KVM could not enter the guest (hardware entry failure reason 0x${hw.toString(16)}); the register state is invalid for VMX/SVM`,
          regs: this.getRegisters(),
        };
      }
      case abi.KVM_EXIT_INTERNAL_ERROR: {
        const sub = rv.getUint32(abi.RUN.internalSuberror, true);
        const what = sub === 1 ? 'emulation failure' : sub === 2 ? 'simultaneous exceptions' : sub === 3 ? 'delivery event error' : `suberror ${sub}`;
        return { kind: 'error', message: `KVM internal error: ${what}${this.internalErrorDetail(sub)}`, regs: this.getRegisters() };
      }
      default:
        return { kind: 'error', message: `unexpected KVM exit reason ${reason}`, regs: this.getRegisters() };
    }
  }

  /**
   * What KVM says beyond the suberror: for an emulation failure with
   * KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES, the bytes it could not emulate
   * (struct kvm_run emulation_failure: flags u64, insn_size u8, insn_bytes[15]);
   * otherwise the data words. What a bug report needs.
   */
  private internalErrorDetail(suberror: number): string {
    const rv = this.runView;
    const ndata = Math.min(rv.getUint32(abi.RUN.internalNdata, true), 16);
    if (ndata === 0) return '';
    const flags = rv.getBigUint64(abi.RUN.internalData, true);
    if (suberror === 1 && flags & 1n && ndata >= 3) {
      const size = Math.min(this.run8[abi.RUN.internalData + 8], 15);
      const bytes = Array.from(this.run8.subarray(abi.RUN.internalData + 9, abi.RUN.internalData + 9 + size), (b) => b.toString(16).padStart(2, '0'));
      return ` (instruction bytes ${bytes.join(' ')})`;
    }
    const data = Array.from({ length: ndata }, (_, i) => '0x' + rv.getBigUint64(abi.RUN.internalData + 8 * i, true).toString(16));
    return ` (data ${data.join(' ')})`;
  }

  private serveIo(): void {
    const rv = this.runView;
    const dir = this.run8[abi.RUN.ioDirection];
    const size = this.run8[abi.RUN.ioSize] as 1 | 2 | 4;
    const port = rv.getUint16(abi.RUN.ioPort, true);
    const count = rv.getUint32(abi.RUN.ioCount, true);
    let off = Number(rv.getBigUint64(abi.RUN.ioDataOffset, true));
    // data_offset comes from the kernel, but a bad one would make us touch memory
    // outside the mapping: check before trusting it.
    if (off + count * size > this.run8.length) throw new Error(`kvm_run I/O data outside the run area (${off}+${count}*${size})`);
    for (let i = 0; i < count; i++, off += size) {
      if (dir === abi.KVM_EXIT_IO_OUT) {
        const v = size === 1 ? rv.getUint8(off) : size === 2 ? rv.getUint16(off, true) : rv.getUint32(off, true);
        this.bus.pioWrite(port, size, v);
      } else {
        const v = this.bus.pioRead(port, size);
        if (size === 1) rv.setUint8(off, v);
        else if (size === 2) rv.setUint16(off, v, true);
        else rv.setUint32(off, v >>> 0, true);
      }
    }
  }

  private serveMmio(): void {
    const rv = this.runView;
    const gpa = Number(rv.getBigUint64(abi.RUN.mmioPhysAddr, true));
    const len = rv.getUint32(abi.RUN.mmioLen, true);
    const write = this.run8[abi.RUN.mmioIsWrite] !== 0;
    const d = abi.RUN.mmioData;
    if (len === 8) {
      if (write) this.bus.mmioWrite64(gpa, rv.getBigUint64(d, true));
      else rv.setBigUint64(d, this.bus.mmioRead64(gpa), true);
    } else if (len === 1 || len === 2 || len === 4) {
      if (write) {
        const v = len === 1 ? rv.getUint8(d) : len === 2 ? rv.getUint16(d, true) : rv.getUint32(d, true);
        this.bus.mmioWrite(gpa, len, v);
      } else {
        const v = this.bus.mmioRead(gpa, len);
        if (len === 1) rv.setUint8(d, v);
        else if (len === 2) rv.setUint16(d, v, true);
        else rv.setUint32(d, v >>> 0, true);
      }
    } else {
      // Odd widths (3, 5-7 bytes) come from unusual instructions: byte by byte.
      for (let i = 0; i < Math.min(len, 8); i++) {
        if (write) this.bus.mmioWrite(gpa + i, 1, rv.getUint8(d + i));
        else rv.setUint8(d + i, this.bus.mmioRead(gpa + i, 1));
      }
    }
  }

  kick(): void {
    // Same-thread kick: the loop sees the flag after the current exit; immediate_exit
    // makes a KVM_RUN entered before the flag is read return at once.
    this.kicked = true;
    this.run8[abi.RUN.immediateExit] = 1;
  }

  getRegisters(): RegisterDump {
    this.check(libc.ioctlPtr(this.fd, abi.KVM_GET_REGS, this.regsBuf), 'KVM_GET_REGS');
    this.check(libc.ioctlPtr(this.fd, abi.KVM_GET_SREGS, this.sregsBuf), 'KVM_GET_SREGS');
    const r = new DataView(this.regsBuf.buffer);
    const s = new DataView(this.sregsBuf.buffer);
    const dump: Record<string, unknown> = {};
    abi.REGS_ORDER.forEach((name, i) => (dump[name] = r.getBigUint64(i * 8, true)));
    abi.SREGS_SEGMENTS.forEach((name, i) => (dump[name] = readSegment(s, i * abi.SEGMENT_SIZE)));
    dump.gdt = { base: s.getBigUint64(abi.SREGS.gdt, true), limit: s.getUint16(abi.SREGS.gdt + 8, true) };
    dump.idt = { base: s.getBigUint64(abi.SREGS.idt, true), limit: s.getUint16(abi.SREGS.idt + 8, true) };
    for (const cr of ['cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer'] as const) dump[cr] = s.getBigUint64(abi.SREGS[cr], true);
    return dump as unknown as RegisterDump;
  }

  setRegisters(regs: Partial<RegisterDump>): void {
    const cur = this.getRegisters();
    const next = { ...cur, ...regs };
    const r = new DataView(this.regsBuf.buffer);
    const s = new DataView(this.sregsBuf.buffer);
    abi.REGS_ORDER.forEach((name, i) => r.setBigUint64(i * 8, BigInt.asUintN(64, next[name]), true));
    // RFLAGS bit 1 is reserved-as-one; KVM refuses entry otherwise.
    r.setBigUint64(17 * 8, BigInt.asUintN(64, next.rflags) | 2n, true);
    abi.SREGS_SEGMENTS.forEach((name, i) => writeSegment(s, i * abi.SEGMENT_SIZE, next[name]));
    s.setBigUint64(abi.SREGS.gdt, next.gdt.base, true);
    s.setUint16(abi.SREGS.gdt + 8, next.gdt.limit, true);
    s.setBigUint64(abi.SREGS.idt, next.idt.base, true);
    s.setUint16(abi.SREGS.idt + 8, next.idt.limit, true);
    for (const cr of ['cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer'] as const) s.setBigUint64(abi.SREGS[cr], BigInt.asUintN(64, next[cr]), true);
    this.check(libc.ioctlPtr(this.fd, abi.KVM_SET_SREGS, this.sregsBuf), 'KVM_SET_SREGS');
    this.check(libc.ioctlPtr(this.fd, abi.KVM_SET_REGS, this.regsBuf), 'KVM_SET_REGS');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.close(this.fd);
  }

  private check(rc: number, what: string): void {
    if (rc < 0) throw new Error(`${what}: ${libc.describeErrno(libc.errno())}`);
  }
}

// SegmentDump.attrs = descriptor byte 5 (type, S, DPL, P) | byte 6 high nibble (AVL, L,
// D/B, G) << 8; struct kvm_segment spells the same bits out one per byte.
function readSegment(s: DataView, o: number): SegmentDump {
  const u8 = (f: number): number => s.getUint8(o + f);
  const attrs =
    (u8(abi.SEG.type) & 0xf) |
    ((u8(abi.SEG.s) & 1) << 4) |
    ((u8(abi.SEG.dpl) & 3) << 5) |
    ((u8(abi.SEG.present) & 1) << 7) |
    ((u8(abi.SEG.avl) & 1) << 8) |
    ((u8(abi.SEG.l) & 1) << 9) |
    ((u8(abi.SEG.db) & 1) << 10) |
    ((u8(abi.SEG.g) & 1) << 11);
  return {
    base: s.getBigUint64(o + abi.SEG.base, true),
    limit: s.getUint32(o + abi.SEG.limit, true),
    selector: s.getUint16(o + abi.SEG.selector, true),
    attrs,
  };
}

function writeSegment(s: DataView, o: number, seg: SegmentDump): void {
  s.setBigUint64(o + abi.SEG.base, BigInt.asUintN(64, seg.base), true);
  s.setUint32(o + abi.SEG.limit, seg.limit >>> 0, true);
  s.setUint16(o + abi.SEG.selector, seg.selector, true);
  const a = seg.attrs;
  s.setUint8(o + abi.SEG.type, a & 0xf);
  s.setUint8(o + abi.SEG.s, (a >> 4) & 1);
  s.setUint8(o + abi.SEG.dpl, (a >> 5) & 3);
  s.setUint8(o + abi.SEG.present, (a >> 7) & 1);
  s.setUint8(o + abi.SEG.avl, (a >> 8) & 1);
  s.setUint8(o + abi.SEG.l, (a >> 9) & 1);
  s.setUint8(o + abi.SEG.db, (a >> 10) & 1);
  s.setUint8(o + abi.SEG.g, (a >> 11) & 1);
  // VMX wants not-present segments flagged unusable (SDM Vol. 3C §26.3.1.2).
  s.setUint8(o + abi.SEG.unusable, (a >> 7) & 1 ? 0 : 1);
  s.setUint8(o + 23, 0);
}
