# A fault that cannot be delivered: with an empty IDT, UD2 raises #UD, whose delivery
# raises #GP, whose delivery raises #DF, whose delivery fails: a triple fault (SDM Vol. 3A
# §6.15 "Interrupt 8"), which the CPU reports to the machine as a 'triple-fault' exit.
        .include "boot.inc"

test_main:
        mov $'T', %al
        call putc
        lidt empty_idt(%rip)
        ud2
        mov $0xc0, %eax
        jmp report_fail

empty_idt:
        .word 0
        .quad 0
