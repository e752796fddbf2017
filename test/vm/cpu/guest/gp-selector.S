# Segment-load faults with selector error codes (SDM Vol. 3A §6.13, §6.15 "#GP", "#NP"):
# a selector beyond the GDT limit, an LDT selector after a null LLDT, a DPL3 data segment into
# SS at CPL0 -> #GP(selector & ~3); a not-present segment -> #NP(selector). The handler
# checks vector, error code and the saved RIP, then resumes after the instruction.
        .include "boot.inc"

        .macro EXPECT_FAULT vector, err, selector, code
        movq $\vector, exp_vector(%rip)
        movq $\err, exp_err(%rip)
        lea 7f(%rip), %rax
        mov %rax, exp_rip(%rip)
        lea 8f(%rip), %rax
        mov %rax, resume(%rip)
        mov $\selector, %ax
        incq expected_faults(%rip)
7:
        .endm

test_main:
        mov $13, %edi
        lea gp_handler(%rip), %rsi
        mov $0x8e, %edx
        xor %ecx, %ecx
        call set_gate
        mov $11, %edi
        lea np_handler(%rip), %rsi
        call set_gate
        mov $12, %edi
        lea ss_handler(%rip), %rsi
        call set_gate

        EXPECT_FAULT 13, 0x0f08, 0x0f0b, 0x40
        mov %ax, %ds
8:
        EXPECT_FAULT 11, 0x48, SEL_NOTPRESENT, 0x41
        mov %ax, %es
8:
        # After reset LDTR still describes a 64 KiB LDT at 0 (SDM Vol. 3A Table 9-1); a null
        # LLDT makes it unusable, so that an LDT selector must fault.
        xor %eax, %eax
        lldt %ax
        EXPECT_FAULT 13, 0x0c, 0x0c, 0x42
        mov %ax, %fs
8:
        EXPECT_FAULT 13, 0x28, SEL_UDATA, 0x43
        mov %ax, %ss
8:
        mov faults(%rip), %rax
        CHECK_EQ expected_faults(%rip), %rax, 0x44
        CHECK_EQ $4, %rax, 0x45
        mov %ds, %eax
        CHECK_EQ $SEL_KDATA, %eax, 0x46
        mov %ss, %eax
        CHECK_EQ $SEL_KDATA, %eax, 0x47
        ret

np_handler:
        pushq $11
        jmp check_fault
ss_handler:
        pushq $12
        jmp check_fault
gp_handler:
        pushq $13
check_fault:
        pop %rax
        CHECK_EQ exp_vector(%rip), %rax, 0x48
        mov (%rsp), %rax
        CHECK_EQ exp_err(%rip), %rax, 0x49
        mov 8(%rsp), %rax
        CHECK_EQ exp_rip(%rip), %rax, 0x4a
        mov 16(%rsp), %rax
        CHECK_EQ $SEL_KCODE, %rax, 0x4b
        incq faults(%rip)
        mov resume(%rip), %rax
        mov %rax, 8(%rsp)
        add $8, %rsp
        iretq

        .align 8
exp_vector:     .quad 0
exp_err:        .quad 0
exp_rip:        .quad 0
resume:         .quad 0
faults:         .quad 0
expected_faults: .quad 0
