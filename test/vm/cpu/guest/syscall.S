# SYSCALL/SYSRET round trip (SDM Vol. 2B SYSCALL, SYSRET; Vol. 3A §5.8.8): STAR selects
# the kernel CS/SS (0x10/0x18) and the SYSRET user CS/SS (0x33/0x2B, Linux's layout),
# LSTAR the entry, SFMASK clears DF and IF on entry; RCX and R11 carry the user RIP and
# RFLAGS; SYSRETQ restores them and returns to ring 3.
        .include "boot.inc"

test_main:
        mov $6, %edi
        lea user_fail(%rip), %rsi
        mov $0x8e, %edx
        xor %ecx, %ecx
        call set_gate
        mov $0xc0000081, %ecx           # STAR
        xor %eax, %eax
        mov $0x00230010, %edx
        wrmsr
        mov $0xc0000082, %ecx           # LSTAR
        lea syscall_entry(%rip), %rax
        mov %rax, %rdx
        shr $32, %rdx
        wrmsr
        mov $0xc0000084, %ecx           # SFMASK: TF DF IF IOPL NT AC, as Linux
        mov $0x47700, %eax
        xor %edx, %edx
        wrmsr
        rdmsr
        CHECK_EQ $0x47700, %eax, 0x90
        lea user_code(%rip), %rdi
        jmp enter_user

user_code:
        std
        mov $1, %eax
        lea 1f(%rip), %rbx
        syscall
1:
        mov $0x91, %r15d
        cmp %rbx, %rcx
        jne 9f
        mov $0x92, %r15d
        cmp $0x600, %eax
        jne 9f
        mov %cs, %eax
        mov $0x93, %r15d
        cmp $SEL_UCODE, %eax
        jne 9f
        mov %ss, %eax
        mov $0x94, %r15d
        cmp $SEL_UDATA, %eax
        jne 9f
        pushfq
        pop %rax
        mov $0x95, %r15d
        test $0x400, %eax               # DF came back from R11
        jz 9f
        mov $0x96, %r15d
        test $0x200, %eax
        jz 9f
        cld
        mov $2, %eax
        lea 2f(%rip), %rbx
        syscall
2:
        mov $0x97, %r15d
9:
        ud2

user_fail:
        mov %r15d, %eax
        jmp report_fail

syscall_entry:
        mov %cs, %edx
        CHECK_EQ $SEL_KCODE, %edx, 0xa0
        mov %ss, %edx
        CHECK_EQ $SEL_KDATA, %edx, 0xa1
        CHECK_EQ %rbx, %rcx, 0xa2
        pushfq
        pop %rdx
        and $0x47700, %edx              # everything SFMASK names is clear
        CHECK_EQ $0, %edx, 0xa3
        cmp $2, %eax
        je report_pass
        mov %r11, %rdx
        and $0x600, %edx                # user RFLAGS: DF and IF set
        CHECK_EQ $0x600, %edx, 0xa4
        mov $0x600, %eax
        sysretq
