# Debug and breakpoint traps (SDM Vol. 3A §17.3, §6.15): INT3 is a trap with RIP after it
# (#BP through a DPL3 gate also from ring 0); RFLAGS.TF single-steps, one #DB after each
# instruction with DR6.BS set and RIP at the next instruction.
        .include "boot.inc"

test_main:
        mov $3, %edi
        lea bp_handler(%rip), %rsi
        mov $0xee, %edx
        xor %ecx, %ecx
        call set_gate
        mov $1, %edi
        lea db_handler(%rip), %rsi
        mov $0x8e, %edx
        call set_gate
        # INT3: the saved RIP is the instruction after it.
        lea 1f(%rip), %rax
        mov %rax, expect_rip(%rip)
        int3
1:
        CHECK_MEMQ $1, bp_count(%rip), 0x170
        # TF: POPF sets it; the trap comes after the instruction that follows POPF, then
        # after each instruction until the handler-side count reaches 3 and clears TF.
        xor %eax, %eax
        mov %rax, %dr6
        pushfq
        orq $0x100, (%rsp)
        popfq
        inc %eax
        inc %eax
        inc %eax
        nop
        CHECK_EQ $3, %eax, 0x171
        CHECK_MEMQ $3, db_count(%rip), 0x172
        mov %dr6, %rax
        and $0x4000, %eax                       # DR6.BS
        CHECK_EQ $0x4000, %eax, 0x173
        ret

bp_handler:
        push %rax
        mov 8(%rsp), %rax
        CHECK_EQ expect_rip(%rip), %rax, 0x175
        incq bp_count(%rip)
        pop %rax
        iretq

db_handler:
        incq db_count(%rip)
        cmpq $3, db_count(%rip)
        jb 1f
        andq $~0x100, 16(%rsp)                  # stop single-stepping (RFLAGS in the frame)
1:
        iretq

        .align 8
expect_rip:     .quad 0
bp_count:       .quad 0
db_count:       .quad 0
