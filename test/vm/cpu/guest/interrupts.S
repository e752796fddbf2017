# External interrupts and NMI (SDM Vol. 3A §6.8): a maskable interrupt waits while IF=0;
# after STI it is taken only after the next instruction (the STI shadow, §6.8.3); STI;HLT
# wakes on it with the saved RIP after HLT; an NMI is taken with IF=0, and a second NMI
# raised inside the NMI handler waits until IRETQ (§6.7.1). Interrupts are requested
# through the harness's test port (0xF8: queue a vector, 0xF9: raise an NMI).
        .include "boot.inc"

        .set IRQ_PORT, 0xf8
        .set NMI_PORT, 0xf9
        .set VEC, 0x40

test_main:
        mov $VEC, %edi
        lea irq_handler(%rip), %rsi
        mov $0x8e, %edx
        xor %ecx, %ecx
        call set_gate
        mov $2, %edi
        lea nmi_handler(%rip), %rsi
        call set_gate
        # 1. IF=0 holds the interrupt back.
        cli
        mov $VEC, %al
        out %al, $IRQ_PORT
        nop
        nop
        CHECK_MEMQ $0, irq_count(%rip), 0xd0
        # 2. STI shadow: the instruction after STI runs first; the frame's RIP is after it.
        xor %r8d, %r8d
        lea 1f(%rip), %rax
        mov %rax, irq_expect_rip(%rip)
        sti
        inc %r8
1:
        nop
        cli
        CHECK_MEMQ $1, irq_count(%rip), 0xd1
        CHECK_MEMQ $1, irq_r8(%rip), 0xd2
        # 3. STI; HLT with a request waiting: HLT ends, RIP after HLT.
        mov $VEC, %al
        out %al, $IRQ_PORT
        lea 2f(%rip), %rax
        mov %rax, irq_expect_rip(%rip)
        sti
        hlt
2:
        cli
        CHECK_MEMQ $2, irq_count(%rip), 0xd3
        # 4. NMI with IF=0; a nested NMI request waits for IRETQ.
        out %al, $NMI_PORT
        nop
        CHECK_MEMQ $2, nmi_count(%rip), 0xd4
        CHECK_MEMQ $1, nmi_nested_ok(%rip), 0xd5
        ret

irq_handler:
        push %rax
        incq irq_count(%rip)
        mov %r8, irq_r8(%rip)
        mov 8(%rsp), %rax
        CHECK_EQ irq_expect_rip(%rip), %rax, 0xd6
        testq $0x200, 24(%rsp)          # the interrupted code had IF=1
        jnz 3f
        mov $0xd7, %eax
        jmp report_fail
3:
        pop %rax
        iretq

nmi_handler:
        push %rax
        incq nmi_count(%rip)
        cmpq $1, nmi_count(%rip)
        jne 4f
        out %al, $NMI_PORT              # raise another NMI: blocked until IRETQ
        nop
        nop
        cmpq $1, nmi_count(%rip)
        jne 4f
        movq $1, nmi_nested_ok(%rip)
4:
        pop %rax
        iretq

        .align 8
irq_count:      .quad 0
irq_r8:         .quad 0
irq_expect_rip: .quad 0
nmi_count:      .quad 0
nmi_nested_ok:  .quad 0
