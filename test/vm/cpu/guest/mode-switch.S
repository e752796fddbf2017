# Real mode -> protected mode -> long mode (boot.inc prints R, P, L on the way and checks
# real-mode segment arithmetic), then: EFER.LMA and the control registers as the switch
# must leave them (SDM Vol. 3A §9.8.5), a real-mode store through a 16-bit displacement
# above 0x7FFF (an unsigned offset, SDM Vol. 1 §3.7.5), a trip through compatibility mode (a 32-bit code
# segment under long mode, where 0x48 is DEC EAX rather than REX.W) and back by far JMP.
        .include "boot.inc"

test_main:
        # Real mode stored 0xA55A through ES:0x9000 (disp16 0x9000, not -0x7000).
        cmpw $0xa55a, 0x19000
        je 1f
        mov $0x28, %eax
        jmp report_fail
1:
        mov $0xc0000080, %ecx
        rdmsr
        and $0xd01, %eax                # SCE | LME | LMA | NXE
        CHECK_EQ $0xd01, %eax, 0x20
        mov %cr0, %rax
        and $0x80000001, %eax
        CHECK_EQ $0x80000001, %eax, 0x21
        mov %cr4, %rax
        and $0x20, %eax
        CHECK_EQ $0x20, %eax, 0x22
        mov %cs, %eax
        CHECK_EQ $SEL_KCODE, %eax, 0x23
        # 64-bit operand size works: a full-width add carries across bit 31.
        movabs $0x00000000ffffffff, %rax
        add $1, %rax
        movabs $0x0000000100000000, %rdx
        CHECK_EQ %rdx, %rax, 0x24
        # Compatibility mode and back.
        mov %rsp, %r12
        lea compat(%rip), %rax
        pushq $SEL_CODE32
        push %rax
        lretq
        .code32
compat:
        mov $5, %eax
        .byte 0x48                      # DEC EAX here; a REX.W prefix in 64-bit mode
        mov %eax, %ebx
        mov %cs, %ecx
        ljmp $SEL_KCODE, $back64
        .code64
back64:
        CHECK_EQ $4, %ebx, 0x25
        CHECK_EQ $SEL_CODE32, %ecx, 0x26
        CHECK_EQ %r12, %rsp, 0x27
        mov $'M', %al
        call putc
        ret
