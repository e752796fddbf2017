# INT n from ring 3 through DPL3 64-bit interrupt gates (SDM Vol. 3A §6.14): one with
# IST1 (the frame lands at the top of the IST1 stack), one without (the TSS's RSP0);
# each handler checks the frame (user RIP, CS, RFLAGS, RSP, SS), CS and IF in the handler,
# and returns with IRETQ to ring 3. Finally INT to a DPL0 gate from ring 3 raises
# #GP(vector * 8 + 2) (§6.13: IDT bit set), whose handler reports the pass.
        .include "boot.inc"

        .set USER_FAIL, 0x50

test_main:
        mov $6, %edi
        lea user_fail(%rip), %rsi
        mov $0x8e, %edx
        xor %ecx, %ecx
        call set_gate
        mov $13, %edi
        lea gp_final(%rip), %rsi
        call set_gate
        mov $0x80, %edi
        lea int80_handler(%rip), %rsi
        mov $0xee, %edx
        mov $1, %ecx
        call set_gate
        mov $0x81, %edi
        lea int81_handler(%rip), %rsi
        mov $0xee, %edx
        xor %ecx, %ecx
        call set_gate
        lea user_code(%rip), %rdi
        jmp enter_user

# Ring 3. A failed check loads a code into r15 and executes UD2 (the #UD handler reports it).
user_code:
        mov %cs, %eax
        mov $0x51, %r15d
        cmp $SEL_UCODE, %eax
        jne 1f
        mov $0x1111, %eax
        mov %rsp, %rbx
        lea 2f(%rip), %rbp
        int $0x80
2:
        mov $0x52, %r15d
        cmp $0x2222, %eax
        jne 1f
        lea 3f(%rip), %rbp
        int $0x81
3:
        mov $0x53, %r15d
        cmp $0x3333, %eax
        jne 1f
        mov %ss, %eax
        mov $0x54, %r15d
        cmp $SEL_UDATA, %eax
        jne 1f
        lea 4f(%rip), %rbp
4:
        int $0x82                       # DPL0 gate: #GP(0x82 * 8 + 2)
        mov $0x55, %r15d
1:
        ud2

user_fail:
        mov %r15d, %eax
        jmp report_fail

# Checks the interrupt frame at %rsp: RIP %rbp, CS user, RFLAGS.IF set, RSP %rbx, SS user.
        .macro CHECK_USER_FRAME base
        CHECK_EQ %rbp, 0(%rsp), \base
        cmpq $SEL_UCODE, 8(%rsp)
        je 5f
        mov $\base + 1, %eax
        jmp report_fail
5:
        testq $0x200, 16(%rsp)
        jnz 5f
        mov $\base + 2, %eax
        jmp report_fail
5:
        CHECK_EQ %rbx, 24(%rsp), \base + 3
        cmpq $SEL_UDATA, 32(%rsp)
        je 5f
        mov $\base + 4, %eax
        jmp report_fail
5:
        mov %cs, %ecx
        CHECK_EQ $SEL_KCODE, %ecx, \base + 5
        pushfq
        pop %rcx
        and $0x200, %ecx                # an interrupt gate clears IF
        CHECK_EQ $0, %ecx, \base + 6
        .endm

int80_handler:
        mov %rsp, %rcx
        CHECK_EQ $(IST1_TOP - 40), %rcx, 0x60
        CHECK_USER_FRAME 0x61
        CHECK_EQ $0x1111, %eax, 0x68
        mov $0x2222, %eax
        iretq

int81_handler:
        mov %rsp, %rcx
        CHECK_EQ $(RSP0_TOP - 40), %rcx, 0x70
        CHECK_USER_FRAME 0x71
        mov $0x3333, %eax
        iretq

gp_final:
        mov 0(%rsp), %rax
        CHECK_EQ $(0x82 * 8 + 2), %rax, 0x80
        CHECK_EQ %rbp, 8(%rsp), 0x81
        mov %rsp, %rcx
        CHECK_EQ $(RSP0_TOP - 48), %rcx, 0x82
        jmp report_pass
