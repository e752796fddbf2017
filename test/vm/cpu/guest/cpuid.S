# Dumps the CPUID leaves a kernel reads first to the debug console, one line per leaf:
# "leaf.subleaf eax ebx ecx edx" in hex; the test asserts on the values (vendor string,
# feature bits, the hypervisor leaves with the TSC frequency).
        .include "boot.inc"

test_main:
        lea leaves(%rip), %rsi
1:
        mov (%rsi), %eax
        mov 4(%rsi), %ecx
        cmp $0xffffffff, %eax
        je 2f
        push %rsi
        mov %eax, %r8d
        mov %ecx, %r9d
        cpuid
        mov %eax, %r10d
        mov %ebx, %r11d
        mov %ecx, %r12d
        mov %edx, %r13d
        mov %r8, %rax
        call puthex64
        mov $'.', %al
        call putc
        mov %r9, %rax
        call puthex64
        .irp r, %r10, %r11, %r12, %r13
        mov $' ', %al
        call putc
        mov \r, %rax
        call puthex64
        .endr
        mov $10, %al
        call putc
        pop %rsi
        add $8, %rsi
        jmp 1b
2:
        ret

        .align 4
leaves:
        .long 0, 0
        .long 1, 0
        .long 7, 0
        .long 0x40000000, 0
        .long 0x40000001, 0
        .long 0x40000010, 0
        .long 0x80000000, 0
        .long 0x80000001, 0
        .long 0x80000008, 0
        .long 0xffffffff, 0
