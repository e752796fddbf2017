// Small guest programs that exercise an accelerator the way a kernel does, each in one
// execution mode, and the register/memory set-up that puts a vCPU in that mode without
// firmware. Every program prints through the debug console port and ends by writing its
// status to DONE_PORT, so the same program gives the same console output on KVM and on
// the software CPU (the differential test between accelerators).
import type { GuestMemory } from '../../../../src/vm/memory.js';
import type { RegisterDump, SegmentDump } from '../../../../src/vm/vcpu.js';
import { assemble } from './assemble.js';

export const CONSOLE_PORT = 0x3f8;
export const DONE_PORT = 0x501;
/** A write here asks the test harness to raise GSI IRQ_GSI (edge). */
export const IRQ_REQUEST_PORT = 0x510;
export const IRQ_GSI = 5;
export const IRQ_VECTOR = 0x40;
/** A plain MMIO register device the harness maps here (below the PCI hole's ECAM end). */
export const MMIO_TEST_BASE = 0xc000_0000;

export const LOAD_ADDRESS = 0x10_000;
const PAGE_TABLES = 0x1000; // PML4 at 0x1000, PDPT 0x2000, PDs 0x3000-0x6fff
const GDT_BASE = 0x8000;

const seg = (selector: number, attrs: number, limit = 0xffff_ffff): SegmentDump => ({ selector, base: 0n, limit, attrs });
// attrs: byte 5 (type | S<<4 | DPL<<5 | P<<7) | (AVL, L, D/B, G) << 8
const CODE32 = 0x0b | 0x10 | 0x80 | (1 << 10) | (1 << 11);
const DATA32 = 0x03 | 0x10 | 0x80 | (1 << 10) | (1 << 11);
const CODE64 = 0x0b | 0x10 | 0x80 | (1 << 9) | (1 << 11);
const TSS64 = 0x0b | 0x80;
const LDT_NONE = 0x02; // not present: unusable

/** Loads a program and returns the registers that start it in `mode`. */
export function prepare(mem: GuestMemory, mode: 16 | 32 | 64, program: Uint8Array): Partial<RegisterDump> {
  mem.slice(LOAD_ADDRESS, program.length).set(program);
  const common = {
    rip: BigInt(LOAD_ADDRESS),
    rsp: 0x80000n,
    rflags: 2n,
    tr: seg(0, TSS64, 0x67),
    ldtr: seg(0, LDT_NONE, 0),
    cr2: 0n,
    cr8: 0n,
    idt: { base: 0n, limit: 0x3ff },
  };
  if (mode === 16) {
    // Real-mode programs are linked at 0 and run in segment LOAD_ADDRESS >> 4.
    const sel = LOAD_ADDRESS >> 4;
    const rm = (s: number): SegmentDump => ({ selector: s, base: BigInt(s << 4), limit: 0xffff, attrs: 0x93 });
    return {
      ...common,
      rip: 0n,
      rsp: 0xfff0n,
      cs: { selector: sel, base: BigInt(LOAD_ADDRESS), limit: 0xffff, attrs: 0x9b },
      ds: rm(sel), es: rm(sel), fs: rm(sel), gs: rm(sel), ss: rm(sel),
      gdt: { base: 0n, limit: 0xffff },
      cr0: 0x10n, cr3: 0n, cr4: 0n, efer: 0n,
    };
  }
  // A GDT in memory too, so programs may reload segments: null, code32, data, code64.
  mem.write64(GDT_BASE, 0n);
  mem.write64(GDT_BASE + 8, 0x00cf9b000000ffffn);
  mem.write64(GDT_BASE + 16, 0x00cf93000000ffffn);
  mem.write64(GDT_BASE + 24, 0x00af9b000000ffffn);
  const gdt = { base: BigInt(GDT_BASE), limit: 31 };
  const data = seg(0x10, DATA32);
  if (mode === 32) {
    return { ...common, cs: seg(0x08, CODE32), ds: data, es: data, fs: data, gs: data, ss: data, gdt, cr0: 0x11n, cr3: 0n, cr4: 0n, efer: 0n };
  }
  // 64-bit: identity-map the low 4 GiB with 2 MiB pages (RAM, the test MMIO device, the
  // IOAPIC and LAPIC pages), as a kernel's early page tables do.
  mem.write64(PAGE_TABLES, BigInt(PAGE_TABLES + 0x1000) | 3n);
  for (let i = 0; i < 4; i++) {
    const pd = PAGE_TABLES + 0x2000 + i * 0x1000;
    mem.write64(PAGE_TABLES + 0x1000 + i * 8, BigInt(pd) | 3n);
    for (let j = 0; j < 512; j++) mem.write64(pd + j * 8, (BigInt(i) << 30n) | (BigInt(j) << 21n) | 0x83n);
  }
  return {
    ...common,
    cs: seg(0x18, CODE64), ds: data, es: data, fs: data, gs: data, ss: data, gdt,
    cr0: 0x8000_0011n, cr3: BigInt(PAGE_TABLES), cr4: 0x20n, efer: 0x500n,
  };
}

// Prints the NUL-terminated string at label \msg through CONSOLE_PORT.
const PRINT16 = `
  mov $0x3f8, %dx
1: lodsb
  test %al, %al
  jz 2f
  out %al, %dx
  jmp 1b
2:`;

/** Real mode: a string, then a sum of 1..1000 printed in hex. */
export function realModeProgram(): Uint8Array {
  return assemble(
    `.code16
  mov $msg, %si
  ${PRINT16}
  xor %ax, %ax
  mov $1000, %cx
3: add %cx, %ax
  loop 3b
  call hex16
  mov $0x501, %dx
  mov $0, %al
  out %al, %dx
  hlt
hex16:            # prints AX as 4 hex digits and a newline
  mov %ax, %bx
  mov $4, %cx
  mov $0x3f8, %dx
4: rol $4, %bx
  mov %bl, %al
  and $0xf, %al
  add $'0', %al
  cmp $'9', %al
  jbe 5f
  add $7, %al
5: out %al, %dx
  loop 4b
  mov $'\\n', %al
  out %al, %dx
  ret
msg: .asciz "real mode: sum="
`,
    0,
  );
}

/** 32-bit flat protected mode: string ops and a multiply/divide result in hex. */
export function protectedModeProgram(): Uint8Array {
  return assemble(
    `.code32
  mov $msg, %esi
  mov $0x3f8, %dx
1: lodsb
  test %al, %al
  jz 2f
  out %al, %dx
  jmp 1b
2: mov $0x12345678, %eax
  mov $0x9abc, %ecx
  mul %ecx             # edx:eax
  mov $0x1111, %ecx
  div %ecx             # eax = quotient
  call hex32
  mov $0x501, %dx
  xor %al, %al
  out %al, %dx
  hlt
hex32:
  mov %eax, %ebx
  mov $8, %ecx
  mov $0x3f8, %dx
3: rol $4, %ebx
  mov %bl, %al
  and $0xf, %al
  add $'0', %al
  cmp $'9', %al
  jbe 4f
  add $7, %al
4: out %al, %dx
  loop 3b
  mov $'\\n', %al
  out %al, %dx
  ret
msg: .asciz "protected mode: q="
`,
    LOAD_ADDRESS,
  );
}

/**
 * 64-bit long mode with paging: an interrupt routed through the IOAPIC to the LAPIC
 * (IDT gate, EOI), then MMIO to a device register, then done. Needs an IOAPIC and a
 * LAPIC at their usual addresses (in-kernel on KVM; the machine's devices otherwise).
 */
export function longModeProgram(): Uint8Array {
  return assemble(
    `.code64
  lea msg(%rip), %rsi
  call print
  # IDT with one 64-bit interrupt gate for IRQ_VECTOR
  lea idt(%rip), %rdi
  lea handler(%rip), %rax
  mov %ax, ${IRQ_VECTOR * 16}(%rdi)
  movw $0x18, ${IRQ_VECTOR * 16 + 2}(%rdi)
  movw $0x8e00, ${IRQ_VECTOR * 16 + 4}(%rdi)
  shr $16, %rax
  mov %ax, ${IRQ_VECTOR * 16 + 6}(%rdi)
  shr $16, %rax
  mov %eax, ${IRQ_VECTOR * 16 + 8}(%rdi)
  lidt idtr(%rip)
  # Mask both i8259s, as Linux does before using the IOAPIC: at reset the BSP's LINT0 is
  # in virtual-wire (ExtINT) mode, so an unmasked PIC would deliver IRQ ${IRQ_GSI} too.
  mov $0xff, %al
  out %al, $0x21
  out %al, $0xa1
  # LAPIC: software-enable through the spurious-vector register
  mov $0xfee00000, %r12d
  movl $0x1ff, 0xf0(%r12)
  # IOAPIC: pin ${IRQ_GSI} -> vector ${IRQ_VECTOR}, edge, fixed, physical, APIC 0
  mov $0xfec00000, %r13d
  movl $${0x10 + 2 * IRQ_GSI + 1}, (%r13)
  movl $0, 0x10(%r13)
  movl $${0x10 + 2 * IRQ_GSI}, (%r13)
  movl $${IRQ_VECTOR}, 0x10(%r13)
  sti
  mov $${IRQ_REQUEST_PORT}, %dx
  out %al, %dx
1: cmpb $0, seen(%rip)
  jne 2f
  hlt
  jmp 1b
2: cli
  # MMIO: write a register of the test device and read it back through the bus
  mov $${MMIO_TEST_BASE}, %r14d
  movl $0xcafe1234, (%r14)
  mov (%r14), %eax
  cmp $0xcafe1234, %eax
  jne fail
  lea ok(%rip), %rsi
  call print
  mov $${DONE_PORT}, %dx
  xor %al, %al
  out %al, %dx
  hlt
fail:
  lea bad(%rip), %rsi
  call print
  mov $${DONE_PORT}, %dx
  mov $1, %al
  out %al, %dx
  hlt
handler:
  push %rsi
  lea irq(%rip), %rsi
  call print
  movb $1, seen(%rip)
  movl $0, 0xb0(%r12)   # EOI
  pop %rsi
  iretq
print:
  push %rdx
  mov $0x3f8, %dx
3: lodsb
  test %al, %al
  jz 4f
  out %al, %dx
  jmp 3b
4: pop %rdx
  ret
msg: .asciz "long mode\\n"
irq: .asciz "interrupt\\n"
ok: .asciz "mmio ok\\n"
bad: .asciz "mmio bad\\n"
seen: .byte 0
.balign 8
idtr: .word 0xfff
  .quad idt
.balign 16
idt: .fill 256, 16, 0
`,
    LOAD_ADDRESS,
  );
}
