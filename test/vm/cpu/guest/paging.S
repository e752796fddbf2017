# 4-level paging (SDM Vol. 3A §4.5): a write to a not-present page, an instruction fetch
# from an NX page and a supervisor write to a read-only page with CR0.WP each raise #PF
# with the architectural CR2 and error code (§4.7); the handler fixes the PTE, flushes it
# with INVLPG and returns with IRETQ, and the instruction is retried. Also: accessed and
# dirty bits written back, a remap made visible by INVLPG, a 1 GiB page.
        .include "boot.inc"

        .set PD2, 0x103000
        .set PT, 0x104000
        .set VA, 0x40000000

test_main:
        mov $14, %edi
        lea pf_handler(%rip), %rsi
        mov $0x8e, %edx
        xor %ecx, %ecx
        call set_gate
        mov $PD2, %edi
        mov $(2 * 512), %ecx
        xor %eax, %eax
        rep stosq
        movq $(PD2 | 7), PDPT_ADDR + 8          # PDPT[1]: VA 1 GiB..2 GiB
        movq $(PT | 7), PD2
        # 1. Not present: PT[0] = 0x300000 | RW, P clear. Write -> #PF(W), fix sets P.
        movq $(0x300000 | 2), PT
        movq $PT, fix_pte(%rip)
        movq $1, fix_or(%rip)
        movq $-1, fix_and(%rip)
        movq $(VA + 0x10), expect_cr2(%rip)
        movq $2, expect_err(%rip)
        movl $0xcafe, VA + 0x10
        CHECK_MEMQ $1, pf_count(%rip), 0x30
        cmpl $0xcafe, 0x300010
        je 1f
        mov $0x31, %eax
        jmp report_fail
1:
        mov PT, %rax
        and $0x60, %eax                         # accessed | dirty
        CHECK_EQ $0x60, %eax, 0x32
        # 2. NX: PT[1] = 0x301000 | P | RW | NX holding "mov $42, %eax; ret". Fetch -> #PF(I/D|P).
        movl $0x00002ab8, 0x301000
        movw $0xc300, 0x301004
        movabs $(0x8000000000000000 | 0x301000 | 3), %rax
        mov %rax, PT + 8
        movq $PT + 8, fix_pte(%rip)
        movq $0, fix_or(%rip)
        movabs $0x7fffffffffffffff, %rax
        mov %rax, fix_and(%rip)
        movq $(VA + 0x1000), expect_cr2(%rip)
        movq $0x11, expect_err(%rip)
        xor %eax, %eax
        mov $(VA + 0x1000), %rbx
        call *%rbx
        CHECK_EQ $42, %eax, 0x33
        CHECK_MEMQ $2, pf_count(%rip), 0x34
        # 3. CR0.WP: PT[2] = 0x302000 | P (read-only). Supervisor write -> #PF(P|W), fix sets RW.
        movq $(0x302000 | 1), PT + 16
        movq $PT + 16, fix_pte(%rip)
        movq $2, fix_or(%rip)
        movq $-1, fix_and(%rip)
        movq $(VA + 0x2008), expect_cr2(%rip)
        movq $3, expect_err(%rip)
        movq $7, VA + 0x2008
        CHECK_MEMQ $3, pf_count(%rip), 0x35
        CHECK_MEMQ $7, 0x302008, 0x36
        # 4. Remap VA -> 0x303000 and INVLPG: the new frame is seen.
        movq $0x5555, 0x303010
        movq $(0x303000 | 3), PT
        invlpg VA
        mov VA + 0x10, %rax
        CHECK_EQ $0x5555, %rax, 0x37
        # 5. A 1 GiB page: PDPT[2] maps VA 2 GiB..3 GiB to PA 0.
        movq $0x87, PDPT_ADDR + 16
        mov %cr3, %rax
        mov %rax, %cr3
        mov 0x80000000 + 0x300010, %eax
        CHECK_EQ $0xcafe, %eax, 0x38
        CHECK_MEMQ $3, pf_count(%rip), 0x39
        ret

pf_handler:
        push %rax
        push %rbx
        incq pf_count(%rip)
        mov %cr2, %rax
        CHECK_EQ expect_cr2(%rip), %rax, 0x3a
        mov 16(%rsp), %rax                      # the error code
        CHECK_EQ expect_err(%rip), %rax, 0x3b
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

        .align 8
pf_count:       .quad 0
expect_cr2:     .quad 0
expect_err:     .quad 0
fix_pte:        .quad 0
fix_or:         .quad 0
fix_and:        .quad 0
