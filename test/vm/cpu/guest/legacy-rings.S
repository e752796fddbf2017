# Privilege changes in 32-bit protected mode as the 686 kernel uses them: a 32-bit TSS
# (ESP0/SS0), IRET to ring 3, INT 0x80 through a DPL3 trap gate with the stack switch
# (SDM Vol. 3A §6.12.1), SYSENTER/SYSEXIT with the IA32_SYSENTER_* MSRs (Linux's
# consecutive kernel CS/DS, user CS/DS selectors), and INT n to a DPL0 gate from ring 3
# raising #GP(vector * 8 + 2), whose handler reports the pass.
        .set PM32_TEST, 1
        .include "boot.inc"

        .set ESP0_TOP, 0x70000
        .set SYSENTER_STACK, 0x68000
        .set USER_ESP, 0x50000

        .macro FAIL32 code
        mov $\code, %eax
        out %eax, $RESULT_PORT
        cli
        hlt
        .endm

        # Writes a 32-bit gate: \vector, handler label, type/attr byte.
        .macro GATE32 vector, handler, attr
        mov $\handler, %eax
        mov %ax, IDT_ADDR + \vector * 8
        movw $SEL_KCODE, IDT_ADDR + \vector * 8 + 2
        movb $0, IDT_ADDR + \vector * 8 + 4
        movb $\attr, IDT_ADDR + \vector * 8 + 5
        shr $16, %eax
        mov %ax, IDT_ADDR + \vector * 8 + 6
        .endm

        .code32
test_main32:
        # GDT[0x10] becomes a 32-bit DPL0 code segment so that 0x10/0x18/0x23/0x2b follow
        # the SYSENTER/SYSEXIT layout (CS, CS+8, CS+16|3, CS+24|3).
        movl $0x0000ffff, gdt + SEL_KCODE
        movl $0x00cf9a00, gdt + SEL_KCODE + 4
        ljmp $SEL_KCODE, $1f
1:
        mov $(IDT_ADDR), %edi                   # all gates not present, then ours
        mov $(256 * 2), %ecx
        xor %eax, %eax
        rep stosl
        GATE32 0x80, int80_handler, 0xef        # DPL3 trap gate
        GATE32 13, gp_handler, 0x8e
        GATE32 6, ud_handler, 0x8e
        lidt idt32_desc
        movl $ESP0_TOP, TSS_ADDR + 4            # ESP0
        movl $SEL_KDATA, TSS_ADDR + 8           # SS0
        mov $SEL_TSS, %ax
        ltr %ax
        xor %edx, %edx                          # IA32_SYSENTER_CS / _ESP / _EIP
        mov $0x174, %ecx
        mov $SEL_KCODE, %eax
        wrmsr
        mov $0x175, %ecx
        mov $SYSENTER_STACK, %eax
        wrmsr
        mov $0x176, %ecx
        mov $sysenter_entry, %eax
        wrmsr
        pushl $SEL_UDATA                        # IRET to ring 3 with IF=1
        pushl $USER_ESP
        pushl $0x202
        pushl $SEL_UCODE32
        pushl $user32
        iret

# Ring 3: a failed check loads a code into EDI and executes UD2.
user32:
        mov $0x120, %edi
        mov %cs, %eax
        cmp $SEL_UCODE32, %eax
        jne 9f
        mov $0x1111, %eax
        mov %esp, %ebx
        int $0x80
        mov $0x121, %edi
        cmp $0x2222, %eax
        jne 9f
        mov %esp, %ecx                          # SYSENTER: user ESP in ECX, return EIP in EDX
        mov %ecx, %ebp
        mov $2f, %edx
        sysenter
2:
        mov $0x122, %edi
        cmp %ebp, %esp
        jne 9f
        mov %cs, %eax
        mov $0x123, %edi
        cmp $SEL_UCODE32, %eax
        jne 9f
        mov %ss, %eax
        mov $0x124, %edi
        cmp $SEL_UDATA, %eax
        jne 9f
        mov $0x125, %edi
        cmp $0x3333, %esi
        jne 9f
3:
        int $0x81                               # no gate for ring 3: #GP(0x81 * 8 + 2)
9:
        ud2

int80_handler:
        cmp $(ESP0_TOP - 20), %esp              # EIP CS EFLAGS ESP SS on the ring-0 stack
        je 1f
        FAIL32 0x130
1:
        cmpl $SEL_UCODE32, 4(%esp)
        je 1f
        FAIL32 0x131
1:
        cmp %ebx, 12(%esp)
        je 1f
        FAIL32 0x132
1:
        cmpl $SEL_UDATA, 16(%esp)
        je 1f
        FAIL32 0x133
1:
        pushf
        pop %ecx
        test $0x200, %ecx                       # a trap gate leaves IF set
        jnz 1f
        FAIL32 0x134
1:
        cmp $0x1111, %eax
        je 1f
        FAIL32 0x135
1:
        mov $0x2222, %eax
        iret

sysenter_entry:
        cmp $SYSENTER_STACK, %esp
        je 1f
        FAIL32 0x136
1:
        mov %cs, %eax
        cmp $SEL_KCODE, %eax
        je 1f
        FAIL32 0x137
1:
        mov %ss, %eax
        cmp $SEL_KDATA, %eax
        je 1f
        FAIL32 0x138
1:
        pushf
        pop %eax
        test $0x200, %eax                       # SYSENTER clears IF
        jz 1f
        FAIL32 0x139
1:
        mov $0x3333, %esi
        sysexit

gp_handler:
        cmpl $(0x81 * 8 + 2), (%esp)
        je 1f
        FAIL32 0x13a
1:
        cmpl $3b, 4(%esp)
        je 1f
        FAIL32 0x13b
1:
        mov $PASS, %eax
        out %eax, $RESULT_PORT
        cli
        hlt

ud_handler:
        mov %edi, %eax
        out %eax, $RESULT_PORT
        cli
        hlt

        .code64
test_main:                                      # never reached: this program stays in 32-bit mode
        mov $0x13c, %eax
        jmp report_fail

        .align 4
idt32_desc:
        .word 256 * 8 - 1
        .long IDT_ADDR
