// What every accelerator (accel/ts, the software CPU; accel/kvm) offers the machine
// (STYLE.md §7). The machine loops on run(); an exit says why the vCPU stopped.

export interface SegmentDump {
  selector: number;
  base: bigint;
  limit: number;
  /**
   * Access rights as in the descriptor's bytes 5-6 (type, S, DPL, P, AVL, L, D/B, G):
   * attrs = byte5 | ((byte6 >> 4) << 8), i.e. bits 0-3 type, 4 S, 5-6 DPL, 7 P, 8 AVL,
   * 9 L, 10 D/B, 11 G. Flat 64-bit code = 0xa9b, flat 32-bit code = 0xc9b, data = 0xc93.
   */
  attrs: number;
}

/** Architectural register state; used for boot set-up, triple-fault dumps and tests. */
export interface RegisterDump {
  rax: bigint; rbx: bigint; rcx: bigint; rdx: bigint;
  rsi: bigint; rdi: bigint; rsp: bigint; rbp: bigint;
  r8: bigint; r9: bigint; r10: bigint; r11: bigint;
  r12: bigint; r13: bigint; r14: bigint; r15: bigint;
  rip: bigint;
  rflags: bigint;
  cs: SegmentDump; ds: SegmentDump; es: SegmentDump; fs: SegmentDump; gs: SegmentDump; ss: SegmentDump;
  tr: SegmentDump; ldtr: SegmentDump;
  gdt: { base: bigint; limit: number };
  idt: { base: bigint; limit: number };
  cr0: bigint; cr2: bigint; cr3: bigint; cr4: bigint; cr8: bigint;
  efer: bigint;
}

export type VcpuExit =
  | { kind: 'hlt' } // executed HLT: the machine sleeps until an interrupt is due (with IF=0 only NMI/INIT/SIPI wake it)
  | { kind: 'budget' } // ran its instruction budget, or was kicked; the machine services timers and loops
  | { kind: 'shutdown' } // a power-off was requested (ACPI S5) while this vCPU ran
  | { kind: 'reset' } // the guest asked for a reset (port 0xCF9, i8042 0xFE)
  | { kind: 'triple-fault'; regs: RegisterDump }
  | { kind: 'error'; message: string; regs?: RegisterDump }; // accelerator failure (KVM internal error, unsupported instruction)

export interface Vcpu {
  readonly index: number;
  run(budget: number): VcpuExit;
  getRegisters(): RegisterDump;
  setRegisters(regs: Partial<RegisterDump>): void;
  /** Asks a running vCPU to return at the next instruction boundary (from any thread). */
  kick(): void;
}
