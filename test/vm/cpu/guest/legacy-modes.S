# Real mode and 32-bit protected mode as firmware, SMP trampolines and the 686 kernel use
# them. Real mode: INT n and #DE through the IVT (SDM Vol. 3A §20.1.4), IRET back.
# Protected mode (SDM Vol. 3A §4.3, §4.4): a 32-bit IDT; 2-level paging with a 4 MiB page
# (CR4.PSE) and a 4 KiB page table where a write to a not-present page raises #PF (CR2,
# error code) that is fixed up and resumed, accessed/dirty bits; then PAE paging with
# EFER.NXE where a fetch from an NX 2 MiB page raises #PF(I/D|P).
        .set REAL_MODE_TEST, 1
        .set PM32_TEST, 1
        .include "boot.inc"

        .macro FAIL32 code
        mov $\code, %eax
        out %eax, $RESULT_PORT
        cli
        hlt
        .endm

        .code16
test_main16:
        movw $int40_16, 0x40 * 4
        movw $0, 0x40 * 4 + 2
        movw $de16, 0
        movw $0, 2
        xor %bx, %bx
        int $0x40
        cmp $0x1234, %bx
        jne fail16
        mov $0x100, %ax
        xor %cl, %cl
de_at:  div %cl                         # quotient 0x100 / 0: #DE, the handler skips it
        cmpw $1, de16_count
        jne fail16
        cmp $0x100, %ax
        jne fail16
        ret
fail16:
        mov $0x12, %eax
        out %eax, $RESULT_PORT
        cli
        hlt
int40_16:
        mov $0x1234, %bx
        iret
de16:
        push %bp
        mov %sp, %bp
        cmpw $de_at, 2(%bp)             # [bp+2] IP, [bp+4] CS, [bp+6] FLAGS
        jne fail16
        addw $2, 2(%bp)
        incw de16_count
        pop %bp
        iret
de16_count:
        .word 0

        .code32
test_main32:
        mov $pf32, %eax                 # IDT[14]: 32-bit interrupt gate to pf32
        mov %ax, IDT_ADDR + 14 * 8
        movw $SEL_CODE32, IDT_ADDR + 14 * 8 + 2
        movw $0x8e00, IDT_ADDR + 14 * 8 + 4
        shr $16, %eax
        mov %ax, IDT_ADDR + 14 * 8 + 6
        lidt idt32_desc
        # 2-level paging: PD at 0x104000 (PDE[0] a 4 MiB page at 0), PT at 0x105000 for 4-8 MiB.
        mov $0x104000, %edi
        mov $2048, %ecx
        xor %eax, %eax
        cld
        rep stosl
        movl $0x83, 0x104000
        movl $(0x105000 | 3), 0x104004
        movl $(0x300000 | 2), 0x105000  # VA 0x400000 -> PA 0x300000, not present
        mov %cr4, %eax
        or $0x10, %eax                  # CR4.PSE
        mov %eax, %cr4
        mov $0x104000, %eax
        mov %eax, %cr3
        mov %cr0, %eax
        or $0x80000000, %eax
        mov %eax, %cr0
        movl $0x400010, expect_cr2
        movl $2, expect_err
        movl $0x105000, fix_addr
        movl $1, fix_or
        movl $-1, fix_and
        movl $0xcafe, 0x400010
        cmpl $1, pf_count
        je 1f
        FAIL32 0x13
1:
        cmpl $0xcafe, 0x300010
        je 1f
        FAIL32 0x14
1:
        mov 0x105000, %eax
        and $0x60, %eax
        cmp $0x60, %eax
        je 1f
        FAIL32 0x15
1:
        # PAE: paging off, PDPT at 0x106000, PD at 0x107000 with 2 MiB pages; VA 4 MiB is NX.
        mov %cr0, %eax
        and $0x7fffffff, %eax
        mov %eax, %cr0
        mov $0x106000, %edi
        mov $2048, %ecx
        xor %eax, %eax
        rep stosl
        movl $(0x107000 | 1), 0x106000
        movl $0x83, 0x107000
        movl $(0x400000 | 0x83), 0x107010
        movl $0x80000000, 0x107014      # NX (bit 63)
        movl $0x00002ab8, 0x400000      # mov $42, %eax; ret
        movw $0xc300, 0x400004
        mov $0xc0000080, %ecx
        rdmsr
        or $0x800, %eax                 # EFER.NXE
        wrmsr
        mov %cr4, %eax
        or $0x20, %eax                  # CR4.PAE
        mov %eax, %cr4
        mov $0x106000, %eax
        mov %eax, %cr3
        mov %cr0, %eax
        or $0x80000000, %eax
        mov %eax, %cr0
        movl $0x400000, expect_cr2
        movl $0x11, expect_err
        movl $0x107014, fix_addr
        movl $0, fix_or
        movl $0x7fffffff, fix_and
        xor %eax, %eax
        mov $0x400000, %ebx
        call *%ebx
        cmp $42, %eax
        je 1f
        FAIL32 0x16
1:
        cmpl $2, pf_count
        je 1f
        FAIL32 0x17
1:
        mov $PASS, %eax
        out %eax, $RESULT_PORT
        cli
        hlt

pf32:
        push %eax
        push %ebx
        incl pf_count
        mov %cr2, %eax
        cmp expect_cr2, %eax
        je 1f
        FAIL32 0x18
1:
        mov 8(%esp), %eax               # the error code
        cmp expect_err, %eax
        je 1f
        FAIL32 0x19
1:
        mov fix_addr, %ebx
        mov (%ebx), %eax
        or fix_or, %eax
        and fix_and, %eax
        mov %eax, (%ebx)
        mov %cr2, %eax
        invlpg (%eax)
        pop %ebx
        pop %eax
        add $4, %esp
        iret

        .code64
test_main:                              # never reached: this program stays in 32-bit mode
        mov $0x1a, %eax
        jmp report_fail

        .align 4
pf_count:       .long 0
expect_cr2:     .long 0
expect_err:     .long 0
fix_addr:       .long 0
fix_or:         .long 0
fix_and:        .long 0
idt32_desc:
        .word 256 * 8 - 1
        .long IDT_ADDR
