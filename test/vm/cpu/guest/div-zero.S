# #DE (SDM Vol. 3A §6.15 "Interrupt 0"): DIV by zero, IDIV overflow (INT64_MIN / -1) and
# an 8-bit DIV whose quotient does not fit AL are faults: the saved RIP is the DIV itself,
# no error code is pushed, and the registers are unchanged.
        .include "boot.inc"

        .macro EXPECT_DE
        lea 7f(%rip), %rax
        mov %rax, exp_rip(%rip)
        lea 8f(%rip), %rax
        mov %rax, resume(%rip)
        .endm

test_main:
        xor %edi, %edi
        lea de_handler(%rip), %rsi
        mov $0x8e, %edx
        xor %ecx, %ecx
        call set_gate

        EXPECT_DE
        mov $1234, %eax
        xor %edx, %edx
        xor %ecx, %ecx
7:      div %ecx
8:
        CHECK_EQ $1234, %eax, 0xb0
        EXPECT_DE
        movabs $0x8000000000000000, %rax
        cqo
        mov $-1, %rcx
7:      idiv %rcx
8:
        movabs $0x8000000000000000, %rdx
        CHECK_EQ %rdx, %rax, 0xb1
        EXPECT_DE
        mov $0x1000, %eax
        mov $2, %cl
7:      div %cl
8:
        CHECK_EQ $0x1000, %eax, 0xb2
        CHECK_MEMQ $3, de_count(%rip), 0xb3
        # No #DE when the quotient fits.
        mov $100, %eax
        xor %edx, %edx
        mov $7, %ecx
        div %ecx
        CHECK_EQ $14, %eax, 0xb4
        CHECK_EQ $2, %edx, 0xb5
        ret

de_handler:
        push %rax
        mov 8(%rsp), %rax
        CHECK_EQ exp_rip(%rip), %rax, 0xb6
        mov 16(%rsp), %rax
        CHECK_EQ $SEL_KCODE, %rax, 0xb7    # no error code: CS follows RIP
        mov resume(%rip), %rax
        mov %rax, 8(%rsp)
        incq de_count(%rip)
        pop %rax
        iretq

        .align 8
exp_rip:        .quad 0
resume:         .quad 0
de_count:       .quad 0
