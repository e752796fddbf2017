// A small 64-bit guest for the whole PC machine (issue 9), in GNU as syntax, assembled at
// test time and wrapped as a bzImage with a 64-bit entry (boot protocol 2.12,
// XLF_KERNEL_64), so the Linux loader boots it like an x86-64 kernel: long mode, the
// loader's identity map of the low 4 GiB, RSI = zero page. 64-bit because that is what
// this workplace's /dev/kvm (kvm_pvm) runs natively; it hands 32-bit protected mode to
// KVM's instruction emulator, which cannot do INT/IRET there. It
// touches what a kernel touches first, through the machine's own devices only:
//  - prints on COM1 (16550 at 0x3F8),
//  - masks the i8259s (ICW1-4, OCW1) so the legacy path stays quiet,
//  - finds the ACPI RSDP in the BIOS area and prints its OEM ID and the RSDT's tables,
//  - reads the CMOS century byte (0x32, named in the FADT) and register D,
//  - finds the virtio-rng function at 00:01.0 through PCI configuration mechanism #1
//    (0xCF8/0xCFC), reads the BAR0 the machine assigned and, by MMIO into that BAR, the
//    virtio common configuration (num_queues, VIRTIO_F_VERSION_1) (virtio 1.2 §4.1.4.3),
//  - takes three interrupts through the LAPIC: its own timer (one-shot, vector 0x40),
//    the i8254 channel 0 (mode 0) through IOAPIC pin 2 (the MADT's IRQ0 override,
//    vector 0x41), and the RTC's periodic interrupt on ISA IRQ 8 through IOAPIC pin 8
//    (vector 0x42), each acknowledged with a LAPIC EOI,
//  - powers off through ACPI PM1a_CNT (SLP_TYP 5 | SLP_EN).
// Everything it prints is deterministic, so the software CPU and KVM must agree byte for byte.
import { bzImageOf } from './guest-programs.js';
import { assemble } from '../accel/support/assemble.js';

// The i8259 pair initialised (ICW1 edge/cascade/ICW4, vector bases 0x20/0x28, cascade on
// IR2, 8086 mode) with every input masked: both guests use the IOAPIC and LAPIC instead.
const PIC_INIT_MASKED = String.raw`  mov $0x11, %al ; out %al, $0x20 ; out %al, $0xa0
  mov $0x20, %al ; out %al, $0x21
  mov $0x28, %al ; out %al, $0xa1
  mov $0x04, %al ; out %al, $0x21
  mov $0x02, %al ; out %al, $0xa1
  mov $0x01, %al ; out %al, $0x21 ; out %al, $0xa1
  mov $0xff, %al ; out %al, $0x21 ; out %al, $0xa1`;

// puthex8: %al as two hex digits through the program's putc.
const PUTHEX8 = String.raw`puthex8:
  push %rax
  shr $4, %al
  call hexdigit
  pop %rax
hexdigit:
  and $0x0f, %al
  add $0x30, %al
  cmp $0x39, %al
  jbe putc
  add $7, %al
  jmp putc`;

const SOURCE = String.raw`
  .code64
  .text
start:
  mov $stack_top, %rsp
  mov $0xfee00000, %r12d        # LAPIC (4 GiB identity map from the loader)
  mov $0xfec00000, %r13d        # IOAPIC
  mov $banner, %esi
  call puts

  # i8259 pair: ICW1 (edge, cascade, ICW4), vector bases 0x20/0x28, cascade on IR2,
  # 8086 mode, then mask every input.
${PIC_INIT_MASKED}

  # ACPI: the RSDP sits on a 16-byte boundary in 0xE0000-0xFFFFF.
  mov $0xe0000, %ebx
1:cmpl $0x20445352, (%rbx)      # "RSD "
  jne 2f
  cmpl $0x20525450, 4(%rbx)     # "PTR "
  je 3f
2:add $16, %ebx
  cmp $0x100000, %ebx
  jb 1b
  mov $no_rsdp, %esi
  call puts
  jmp poweroff
3:mov $rsdp_msg, %esi
  call puts
  lea 9(%rbx), %rsi
  mov $6, %ecx
  call putn
  mov $tables_msg, %esi
  call puts
  mov 16(%rbx), %ebx            # RSDT
  mov 4(%rbx), %edi             # its length
  add %ebx, %edi
  lea 36(%rbx), %ebx            # first entry
4:cmp %edi, %ebx
  jae 5f
  mov (%rbx), %esi              # a table: print its signature
  mov $4, %ecx
  call putn
  mov $0x20, %al
  call putc
  add $4, %ebx
  jmp 4b
5:mov $crlf, %esi
  call puts

  # CMOS: century byte and register D (VRT).
  mov $cmos_msg, %esi
  call puts
  mov $0x32, %al ; out %al, $0x70 ; in $0x71, %al
  call puthex8
  mov $regd_msg, %esi
  call puts
  mov $0x0d, %al ; out %al, $0x70 ; in $0x71, %al
  call puthex8
  mov $crlf, %esi
  call puts

  # virtio-rng at 00:01.0: ID and BAR0 by configuration mechanism #1, then its common
  # configuration structure at BAR0 + 0 by MMIO.
  mov $virtio_msg, %esi
  call puts
  mov $0x80000800, %eax ; mov $0xcf8, %dx ; out %eax, %dx
  mov $0xcfc, %dx ; in %dx, %eax
  call puthex32
  mov $bar_msg, %esi
  call puts
  mov $0x80000810, %eax ; mov $0xcf8, %dx ; out %eax, %dx
  mov $0xcfc, %dx ; in %dx, %eax
  and $0xfffffff0, %eax
  mov %eax, %r14d
  call puthex32
  mov $queues_msg, %esi
  call puts
  movzwl 0x12(%r14), %eax       # num_queues
  call puthex32
  mov $version_msg, %esi
  call puts
  movl $1, (%r14)               # device_feature_select: bits 32-63
  mov 4(%r14), %eax             # device_feature
  and $1, %eax                  # bit 32: VIRTIO_F_VERSION_1
  call puthex32
  mov $crlf, %esi
  call puts

  # The IDT: gates for 0x40-0x42 in this code segment; everything else not present.
  mov %cs, %ax
  movzwl %ax, %eax
  mov %eax, code_sel(%rip)
  mov $0x40, %eax ; mov $isr_lapic, %edx ; call set_gate
  mov $0x41, %eax ; mov $isr_pit, %edx ; call set_gate
  mov $0x42, %eax ; mov $isr_rtc, %edx ; call set_gate
  lidt idt_desc(%rip)

  # LAPIC: software-enable (SVR bit 8, spurious vector 0xff), one-shot timer on 0x40.
  movl $0x1ff, 0xf0(%r12)
  movl $0x0b, 0x3e0(%r12)       # divide by 1
  movl $0x40, 0x320(%r12)
  movl $200000, 0x380(%r12)
  mov $1, %eax
  call wait_irq
  mov $lapic_msg, %esi
  call puts

  # IOAPIC pin 2 (ISA IRQ0 by the MADT override) -> vector 0x41, edge, high, to APIC 0.
  movl $0x15, (%r13) ; movl $0, 0x10(%r13)
  movl $0x14, (%r13) ; movl $0x41, 0x10(%r13)
  # i8254 channel 0, lobyte/hibyte, mode 0 (interrupt on terminal count), about 1 ms.
  mov $0x30, %al ; out %al, $0x43
  mov $0xa9, %al ; out %al, $0x40
  mov $0x04, %al ; out %al, $0x40
  mov $2, %eax
  call wait_irq
  movl $0x14, (%r13) ; movl $0x10041, 0x10(%r13)      # mask pin 2 again
  mov $pit_msg, %esi
  call puts

  # IOAPIC pin 8 (RTC) -> vector 0x42; RTC periodic interrupt at 1024 Hz.
  movl $0x21, (%r13) ; movl $0, 0x10(%r13)
  movl $0x20, (%r13) ; movl $0x42, 0x10(%r13)
  mov $0x0a, %al ; out %al, $0x70 ; mov $0x26, %al ; out %al, $0x71
  mov $0x0b, %al ; out %al, $0x70 ; in $0x71, %al
  or $0x40, %al ; mov %al, %bl
  mov $0x0b, %al ; out %al, $0x70 ; mov %bl, %al ; out %al, $0x71
  mov $4, %eax
  call wait_irq
  mov $0x0b, %al ; out %al, $0x70 ; in $0x71, %al
  and $0xbf, %al ; mov %al, %bl
  mov $0x0b, %al ; out %al, $0x70 ; mov %bl, %al ; out %al, $0x71
  movl $0x20, (%r13) ; movl $0x10042, 0x10(%r13)
  mov $rtc_msg, %esi
  call puts

poweroff:
  mov $bye, %esi
  call puts
  mov $0x604, %dx
  mov $0x3401, %ax              # SLP_TYP 5 << 10 | SLP_EN | SCI_EN
  out %ax, %dx
  cli
6:hlt
  jmp 6b

# Waits with interrupts enabled until every bit of %eax is set in seen.
wait_irq:
  cli
  mov seen(%rip), %edx
  and %eax, %edx
  cmp %eax, %edx
  je 7f
  sti
  hlt                           # sti's shadow: no interrupt slips in before hlt
  jmp wait_irq
7:ret

isr_lapic:
  orl $1, seen(%rip)
  movl $0, 0xb0(%r12)           # EOI
  iretq
isr_pit:
  orl $2, seen(%rip)
  movl $0, 0xb0(%r12)
  iretq
isr_rtc:
  push %rax
  mov $0x0c, %al ; out %al, $0x70 ; in $0x71, %al   # reading C ends the request
  orl $4, seen(%rip)
  movl $0, 0xb0(%r12)
  pop %rax
  iretq

# %eax vector, %edx handler (below 4 GiB): a 64-bit interrupt gate, DPL 0, no IST.
set_gate:
  shl $4, %eax
  lea idt(%rip), %rdi
  add %rax, %rdi
  mov %dx, (%rdi)
  mov code_sel(%rip), %ecx
  mov %cx, 2(%rdi)
  movw $0x8e00, 4(%rdi)
  shr $16, %edx
  mov %dx, 6(%rdi)
  movl $0, 8(%rdi)
  movl $0, 12(%rdi)
  ret

# puts: %esi a NUL-terminated string. putn: %ecx bytes at %esi. putc: %al.
puts:
  lodsb
  test %al, %al
  jz 8f
  call putc
  jmp puts
8:ret
putn:
  lodsb
  call putc
  loop putn
  ret
putc:
  push %rdx
  push %rax
  mov $0x3fd, %dx
9:in %dx, %al                   # LSR.THRE
  test $0x20, %al
  jz 9b
  pop %rax
  mov $0x3f8, %dx
  out %al, %dx
  pop %rdx
  ret
puthex32:
  push %rcx
  push %rbx
  mov %eax, %ebx
  mov $8, %ecx
10:rol $4, %ebx
  mov %bl, %al
  call hexdigit
  loop 10b
  pop %rbx
  pop %rcx
  ret
${PUTHEX8}

banner: .asciz "pc guest: hello from the PC machine\r\n"
no_rsdp: .asciz "no RSDP\r\n"
rsdp_msg: .asciz "acpi: RSDP oem "
tables_msg: .asciz ", RSDT: "
cmos_msg: .asciz "cmos: century "
regd_msg: .asciz " reg D "
virtio_msg: .asciz "virtio: 00:01.0 id "
bar_msg: .asciz " bar0 "
queues_msg: .asciz " queues "
version_msg: .asciz " VERSION_1 "
lapic_msg: .asciz "irq: LAPIC timer vector 0x40\r\n"
pit_msg: .asciz "irq: i8254 through IOAPIC pin 2, vector 0x41\r\n"
rtc_msg: .asciz "irq: RTC periodic through IOAPIC pin 8, vector 0x42\r\n"
bye: .asciz "pc guest: powering off through PM1a_CNT\r\n"
crlf: .asciz "\r\n"
  .balign 4096
seen: .long 0
code_sel: .long 0
idt_desc: .word 0x43 * 16 - 1
  .quad idt
  .balign 16
idt: .fill 0x43 * 16, 1, 0
  .balign 16
  .fill 4096, 1, 0
stack_top:
`;

const ENTRY_64 = 0x200; // startup_64 sits 0x200 into the protected-mode part

/** The guest as a bzImage whose 64-bit entry (1 MiB + 0x200) is the program. */
export function pcGuestImage(): Uint8Array {
  const code = assemble(SOURCE, 0x100000 + ENTRY_64);
  const img = bzImageOf([...new Uint8Array(ENTRY_64), ...code]);
  const v = new DataView(img.buffer);
  v.setUint16(0x206, 0x020c, true); // boot protocol 2.12: xloadflags exists
  v.setUint16(0x236, 0x0001, true); // XLF_KERNEL_64
  return img;
}

/** What it prints when every step works (the RSDT lists FACP, APIC, MCFG in the machine's order). */
export const PC_GUEST_BANNER = 'pc guest: hello from the PC machine';

// The SMP guest: the BSP (64-bit, as above) copies a real-mode trampoline to 0x8000 and
// starts APIC ID 1 with INIT and a STARTUP IPI (vector 0x08 -> CS 0x0800, IP 0), as
// Linux's smpboot does (Intel MP spec B.4); the AP prints from real mode, reports its
// initial APIC ID (CPUID.1:EBX[31:24]) at 0x8800 and halts; the BSP prints it and powers off.
const SMP_SOURCE = String.raw`
  .code64
  .text
start:
  mov $stack_top, %rsp
  mov $0xfee00000, %r12d
  lea bsp_msg(%rip), %rsi
  call puts
${PIC_INIT_MASKED}
  lea tramp(%rip), %rsi
  mov $0x8000, %edi
  mov $(tramp_end - tramp), %ecx
  rep movsb
  movb $0, 0x8800
  movl $0x1ff, 0xf0(%r12)            # LAPIC software-enabled
  movl $0x01000000, 0x310(%r12)      # destination APIC ID 1
  movl $0x00004500, 0x300(%r12)      # INIT, assert
  movl $0x01000000, 0x310(%r12)
  movl $0x00004608, 0x300(%r12)      # STARTUP, vector 0x08
1:pause
  movzbl 0x8800, %eax
  test %eax, %eax
  jz 1b
  dec %eax
  mov %eax, %ebx
  lea ap_up_msg(%rip), %rsi
  call puts
  mov %ebx, %eax
  call puthex8
  lea ap_up_end(%rip), %rsi
  call puts
  lea bye_msg(%rip), %rsi
  call puts
  mov $0x604, %dx
  mov $0x3401, %ax
  out %ax, %dx
  cli
2:hlt
  jmp 2b

puts:
  lodsb
  test %al, %al
  jz 3f
  call putc
  jmp puts
3:ret
putc:
  push %rdx
  push %rax
  mov $0x3fd, %dx
4:in %dx, %al
  test $0x20, %al
  jz 4b
  pop %rax
  mov $0x3f8, %dx
  out %al, %dx
  pop %rdx
  ret
${PUTHEX8}

  .code16
tramp:
  cli
  mov %cs, %ax
  mov %ax, %ds
  mov $(ap_msg - tramp), %si
5:lodsb
  test %al, %al
  jz 7f
  mov %al, %bl
  mov $0x3fd, %dx
6:in %dx, %al
  test $0x20, %al
  jz 6b
  mov %bl, %al
  mov $0x3f8, %dx
  out %al, %dx
  jmp 5b
7:mov $1, %eax
  cpuid
  shr $24, %ebx
  inc %bl
  mov $0x880, %ax
  mov %ax, %ds
  movb %bl, 0                        # 0x8800: APIC ID + 1
8:hlt
  jmp 8b
ap_msg: .asciz "smp guest: AP running in real mode\r\n"
tramp_end:

  .code64
bsp_msg: .asciz "smp guest: BSP up, starting APIC ID 1\r\n"
ap_up_msg: .asciz "smp guest: AP with APIC ID "
ap_up_end: .asciz " reported in\r\n"
bye_msg: .asciz "smp guest: powering off\r\n"
  .balign 16
  .fill 4096, 1, 0
stack_top:
`;

/** The SMP guest as a bzImage with a 64-bit entry; run it with 2 vCPUs. */
export function smpGuestImage(): Uint8Array {
  const code = assemble(SMP_SOURCE, 0x100000 + ENTRY_64);
  const img = bzImageOf([...new Uint8Array(ENTRY_64), ...code]);
  const v = new DataView(img.buffer);
  v.setUint16(0x206, 0x020c, true);
  v.setUint16(0x236, 0x0001, true);
  return img;
}
