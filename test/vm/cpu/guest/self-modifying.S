# Self-modifying code (SDM Vol. 3A §8.1.3): code patched by an ordinary store and called
# again, a store to the very next instruction (x86 detects it without any serializing
# instruction), and a store through a second virtual mapping of the code's page (what
# Linux's text_poke does). device-written-code.S covers writes from outside the CPU.
        .include "boot.inc"

        .set ALIAS_VA, 0x40000000
        .set PD2, 0x103000
        .set PT, 0x104000

test_main:
        # 1. Patch an immediate, call again.
        call func1
        CHECK_EQ $1, %eax, 0x150
        movl $2, func1 + 1(%rip)
        call func1
        CHECK_EQ $2, %eax, 0x151
        # 2. Patch the next instruction.
        movb $5, 1f + 1(%rip)
1:      mov $7, %al
        movzbl %al, %eax
        CHECK_EQ $5, %eax, 0x152
        # 3. Write through an alias: ALIAS_VA maps func2's physical page.
        mov $PD2, %edi
        mov $(2 * 512), %ecx
        xor %eax, %eax
        rep stosq
        movq $(PD2 | 7), PDPT_ADDR + 8
        movq $(PT | 7), PD2
        lea func2(%rip), %rax
        mov %rax, %rbx
        and $~0xfff, %rax
        or $3, %rax
        mov %rax, PT
        call func2
        CHECK_EQ $3, %eax, 0x153
        and $0xfff, %ebx
        movl $4, ALIAS_VA + 1(%rbx)
        call func2
        CHECK_EQ $4, %eax, 0x154
        ret

        PAGE_ALIGN
func1:  mov $1, %eax
        ret
        PAGE_ALIGN
func2:  mov $3, %eax
        ret
        PAGE_ALIGN
