# Code written from outside the CPU: a device copies new instruction bytes into a page
# the CPU has already executed (as a virtio device may DMA into a page that held code
# before), and the CPU must run the new bytes (x86 keeps instruction fetch coherent with
# DMA; SDM Vol. 3A §8.1.3). The harness's copy port (0xFA) plays the device; the check is
# skipped where the port is absent (QEMU).
        .include "boot.inc"

        .set DMA_PORT, 0xfa
        .set DMA_MAGIC, 0xd4a

test_main:
        in $DMA_PORT, %ax
        cmp $DMA_MAGIC, %ax
        jne 2f
        call func3
        CHECK_EQ $5, %eax, 0x155
        lea func3 + 1(%rip), %rax
        mov %eax, dma_dst(%rip)
        lea new_imm(%rip), %rax
        mov %eax, dma_src(%rip)
        lea dma_dst(%rip), %rax
        out %eax, $DMA_PORT
        call func3
        CHECK_EQ $6, %eax, 0x156
2:
        ret

        .align 4
dma_dst:        .long 0
dma_src:        .long 0
dma_len:        .long 4
new_imm:        .long 6

        PAGE_ALIGN
func3:  mov $5, %eax
        ret
        PAGE_ALIGN
