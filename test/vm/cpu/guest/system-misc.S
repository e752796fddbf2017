# System instructions a kernel runs early (SDM Vol. 2): RDMSR/WRMSR of FS_BASE and
# KERNEL_GS_BASE and their effect on FS:/GS: addressing, SWAPGS, #GP(0) for an unknown
# MSR, RDTSC/RDTSCP (IA32_TSC_AUX in ECX), SGDT/SIDT/STR/SMSW, LAR/LSL/VERR/VERW on GDT
# selectors, and from ring 3: #GP(0) for HLT, CLI and MOV to CR0, IN with IOPL=0, and
# an I/O port the TSS I/O bitmap allows (SDM Vol. 1 §19.5.2).
        .include "boot.inc"

        .set MSR_FS_BASE, 0xc0000100
        .set MSR_GS_BASE, 0xc0000101
        .set MSR_KERNEL_GS_BASE, 0xc0000102
        .set MSR_TSC_AUX, 0xc0000103
        .set IOPB_OFFSET, 0x68                  # I/O bitmap right after the 104-byte TSS
        .set ALLOWED_PORT, 0xe9

        .macro WRMSR64 msr, value
        mov $\msr, %ecx
        mov $\value, %eax
        xor %edx, %edx
        wrmsr
        .endm

        # Expect #GP(0) from the next instruction (resume after it).
        .macro EXPECT_GP0
        lea 7f(%rip), %rax
        mov %rax, gp_rip(%rip)
        lea 8f(%rip), %rax
        mov %rax, gp_resume(%rip)
        incq gp_expected(%rip)
7:
        .endm

test_main:
        mov $13, %edi
        lea gp_handler(%rip), %rsi
        mov $0x8e, %edx
        xor %ecx, %ecx
        call set_gate
        # FS/GS bases through the MSRs, then SWAPGS.
        movq $0x1111, 0x200000
        movq $0x2222, 0x300000
        WRMSR64 MSR_FS_BASE, 0x200000
        WRMSR64 MSR_GS_BASE, 0x300000
        WRMSR64 MSR_KERNEL_GS_BASE, 0x200000
        mov %fs:0, %rax
        CHECK_EQ $0x1111, %rax, 0xe0
        mov %gs:0, %rax
        CHECK_EQ $0x2222, %rax, 0xe1
        swapgs
        mov %gs:0, %rax
        CHECK_EQ $0x1111, %rax, 0xe2
        mov $MSR_KERNEL_GS_BASE, %ecx
        rdmsr
        CHECK_EQ $0x300000, %eax, 0xe3
        swapgs
        # An MSR nobody implements: #GP(0), registers unchanged.
        mov $0x12345678, %ecx
        EXPECT_GP0
        rdmsr
8:
        # RDTSC moves forward; RDTSCP returns TSC_AUX in ECX.
        rdtsc
        shl $32, %rdx
        or %rax, %rdx
        mov %rdx, %r8
        mov $100, %ecx
1:      loop 1b
        rdtsc
        shl $32, %rdx
        or %rax, %rdx
        cmp %r8, %rdx
        ja 1f
        mov $0xe4, %eax
        jmp report_fail
1:
        WRMSR64 MSR_TSC_AUX, 0x5a
        rdtscp
        CHECK_EQ $0x5a, %ecx, 0xe5
        # Descriptor-table stores.
        sgdt gdtr_image(%rip)
        movzwl gdtr_image(%rip), %eax
        CHECK_EQ $(gdt_end - gdt - 1), %eax, 0xe6
        lea gdt(%rip), %rax
        CHECK_EQ gdtr_image + 2(%rip), %rax, 0xe7
        sidt idtr_image(%rip)
        mov idtr_image + 2(%rip), %rax
        CHECK_EQ $IDT_ADDR, %rax, 0xe8
        str %ax
        CHECK_EQ $SEL_TSS, %ax, 0xe9
        smsw %eax
        and $0x3f, %eax                         # MSW: PE MP EM TS ET NE
        CHECK_EQ $0x11, %eax, 0xea              # PE | ET as boot.inc leaves them
        # LAR/LSL/VERR/VERW: ZF says whether the selector is accessible.
        mov $SEL_UDATA, %ecx
        lar %ecx, %eax
        jz 1f
        mov $0xeb, %eax
        jmp report_fail
1:
        and $0x00f0ff00, %eax                   # access byte and flags nibble
        CHECK_EQ $0x00c0f200, %eax, 0xec
        lsl %ecx, %eax
        CHECK_EQ $0xffffffff, %eax, 0xed
        mov $SEL_TSS, %ecx
        lsl %ecx, %eax
        CHECK_EQ $0x67, %eax, 0xee
        mov $0x0f08, %ecx                       # beyond the GDT limit: ZF clear
        lar %ecx, %eax
        jnz 1f
        mov $0xef, %eax
        jmp report_fail
1:
        mov $SEL_UDATA, %ecx
        verw %cx
        jz 1f
        mov $0xf0, %eax
        jmp report_fail
1:
        mov $SEL_KCODE, %ecx
        verw %cx                                # code segments are never writable
        jnz 1f
        mov $0xf1, %eax
        jmp report_fail
1:
        # TSS I/O bitmap: all ports denied except ALLOWED_PORT; the byte after is 0xFF.
        movw $IOPB_OFFSET, TSS_ADDR + 0x66
        mov $(TSS_ADDR + IOPB_OFFSET), %edi
        mov $(8192 + 1), %ecx
        mov $0xff, %al
        rep stosb
        andb $~(1 << (ALLOWED_PORT & 7)), TSS_ADDR + IOPB_OFFSET + (ALLOWED_PORT >> 3)
        # The TSS limit must cover the bitmap: rewrite the descriptor (limit 0x2067) and reload TR.
        lea gdt(%rip), %rax
        movw $(IOPB_OFFSET + 8192), SEL_TSS(%rax)
        andb $0xfd, SEL_TSS + 5(%rax)           # busy -> available, so LTR accepts it
        mov $SEL_TSS, %ax
        ltr %ax
        lea user_code(%rip), %rdi
        jmp enter_user

# Ring 3 (IOPL 0): privileged instructions fault with #GP(0); the kernel handler resumes.
user_code:
        EXPECT_GP0
        hlt
8:
        EXPECT_GP0
        cli
8:
        EXPECT_GP0
        mov %rax, %cr0
8:
        EXPECT_GP0
        in $0x80, %al                           # denied by IOPL and the bitmap
8:
        mov $'!', %al
        out %al, $ALLOWED_PORT                  # allowed by the bitmap
        mov gp_seen(%rip), %rax
        cmp gp_expected(%rip), %rax
        jne 9f
        cmp $5, %rax
        jne 9f
        int3                                    # to the kernel (vector 3, DPL3 gate below)
9:
        ud2

gp_handler:
        push %rax
        mov 8(%rsp), %rax
        CHECK_EQ $0, %rax, 0xf2                 # error code 0
        mov 16(%rsp), %rax
        CHECK_EQ gp_rip(%rip), %rax, 0xf3
        mov gp_resume(%rip), %rax
        mov %rax, 16(%rsp)
        incq gp_seen(%rip)
        cmpq $1, gp_seen(%rip)                  # after the kernel-mode #GP, arm the user exits
        jne 1f
        push %rdi
        push %rsi
        push %rdx
        push %rcx
        mov $3, %edi
        lea done_handler(%rip), %rsi
        mov $0xee, %edx
        xor %ecx, %ecx
        call set_gate
        mov $6, %edi
        lea user_failed(%rip), %rsi
        mov $0x8e, %edx
        call set_gate
        pop %rcx
        pop %rdx
        pop %rsi
        pop %rdi
1:
        pop %rax
        add $8, %rsp
        iretq

done_handler:
        jmp report_pass
user_failed:
        mov $0xf4, %eax
        jmp report_fail

        .align 8
gp_rip:         .quad 0
gp_resume:      .quad 0
gp_seen:        .quad 0
gp_expected:    .quad 0
gdtr_image:     .word 0
                .quad 0
idtr_image:     .word 0
                .quad 0
