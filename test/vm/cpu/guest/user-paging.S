# Page faults as Linux's demand paging sees them (SDM Vol. 3A §4.7): from ring 3, a read
# of a not-present page (error code U), a write to a read-only page (P|W|U), a read of a
# supervisor page (P|U), a fetch from an NX page (P|U|I/D); from ring 0, a reserved bit
# above MAXPHYADDR in a present PTE (RSVD; P is not checked there: KVM reports P|RSVD,
# QEMU TCG RSVD alone). The handler checks CR2 and the error code,
# fixes the PTE and returns; ring 3 retries and continues.
        .include "boot.inc"

        .set PD2, 0x103000
        .set PT, 0x104000
        .set VA, 0x40000000

        # Expect one #PF at \va with \err (bits outside \errmask ignored); the handler ORs
        # \or and ANDs \and into PTE[\n].
        .macro EXPECT_PF va, err, n, or, and, errmask=-1
        movq $\va, expect_cr2(%rip)
        movq $\err, expect_err(%rip)
        movq $\errmask, err_mask(%rip)
        movq $(PT + 8 * \n), fix_pte(%rip)
        movq $\or, fix_or(%rip)
        movabs $\and, %rax
        mov %rax, fix_and(%rip)
        .endm

test_main:
        mov $14, %edi
        lea pf_handler(%rip), %rsi
        mov $0x8e, %edx
        xor %ecx, %ecx
        call set_gate
        mov $6, %edi
        lea user_failed(%rip), %rsi
        call set_gate
        mov $0x80, %edi
        lea user_done(%rip), %rsi
        mov $0xee, %edx
        call set_gate
        mov $PD2, %edi
        mov $(2 * 512), %ecx
        xor %eax, %eax
        rep stosq
        movq $(PD2 | 7), PDPT_ADDR + 8
        movq $(PT | 7), PD2
        movq $(0x300000 | 6), PT                # [0] user RW, not present
        movq $(0x301000 | 5), PT + 8            # [1] user read-only
        movq $(0x302000 | 3), PT + 16           # [2] supervisor RW
        movl $0x00002ab8, 0x303000              # [3] user NX page holding "mov $42, %eax; ret"
        movw $0xc300, 0x303004
        movabs $(0x8000000000000000 | 0x303000 | 7), %rax
        mov %rax, PT + 24
        movabs $(0x0008000000000000 | 0x304000 | 3), %rax
        mov %rax, PT + 32                       # [4] bit 51 set: reserved (MAXPHYADDR < 52)
        movq $0x77, 0x304010
        lea user_code(%rip), %rdi
        jmp enter_user

user_code:
        mov $0x162, %r15d
        EXPECT_PF (VA + 0x10), 0x4, 0, 1, -1
        mov VA + 0x10, %rax                     # not present -> P set
        EXPECT_PF (VA + 0x1008), 0x7, 1, 2, -1
        movq $5, VA + 0x1008                    # read-only -> RW set
        EXPECT_PF (VA + 0x2000), 0x5, 2, 4, -1
        mov VA + 0x2000, %rax                   # supervisor -> U set
        EXPECT_PF (VA + 0x3000), 0x15, 3, 0, 0x7fffffffffffffff
        mov $(VA + 0x3000), %rbx
        call *%rbx                              # NX -> NX cleared
        mov $0x163, %r15d
        cmp $42, %eax
        jne 9f
        mov $0x164, %r15d
        cmpq $4, pf_count(%rip)
        jne 9f
        int $0x80
9:
        ud2

pf_handler:
        push %rax
        push %rbx
        incq pf_count(%rip)
        mov %cr2, %rax
        CHECK_EQ expect_cr2(%rip), %rax, 0x165
        mov 16(%rsp), %rax
        and err_mask(%rip), %rax
        CHECK_EQ expect_err(%rip), %rax, 0x166
        mov fix_pte(%rip), %rbx
        mov (%rbx), %rax
        or fix_or(%rip), %rax
        and fix_and(%rip), %rax
        mov %rax, (%rbx)
        mov %cr2, %rax
        invlpg (%rax)
        pop %rbx
        pop %rax
        add $8, %rsp
        iretq

# Back in ring 0 (INT 0x80): the reserved bit.
user_done:
        EXPECT_PF (VA + 0x4010), 0x8, 4, 0, 0xfff7ffffffffffff, ~1
        mov VA + 0x4010, %rax
        CHECK_EQ $0x77, %rax, 0x160
        CHECK_MEMQ $5, pf_count(%rip), 0x161
        jmp report_pass
user_failed:
        mov %r15d, %eax
        jmp report_fail

        .align 8
pf_count:       .quad 0
expect_cr2:     .quad 0
expect_err:     .quad 0
err_mask:       .quad 0
fix_pte:        .quad 0
fix_or:         .quad 0
fix_and:        .quad 0
