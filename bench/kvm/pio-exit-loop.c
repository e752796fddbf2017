/* The anchor for bench/kvm/pio-exits.ts: the same KVM_RUN loop in C. Loads a flat
 * real-mode program at 0x10000, runs it on one vCPU without an in-kernel irqchip and
 * serves its port-I/O exits (a no-op device and a "done" port) until done. Prints the
 * number of PIO exits and the exits per second. */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: %s PROGRAM.bin\n", argv[0]); return 2; }
  static uint8_t prog[65536];
  FILE *f = fopen(argv[1], "rb");
  if (!f) { perror(argv[1]); return 1; }
  size_t n = fread(prog, 1, sizeof prog, f);
  fclose(f);
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) { perror("/dev/kvm"); return 1; }
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  size_t memsz = 1 << 20;
  uint8_t *mem = mmap(NULL, memsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memcpy(mem + 0x10000, prog, n);
  struct kvm_userspace_memory_region region = { .slot = 0, .guest_phys_addr = 0, .memory_size = memsz, .userspace_addr = (uint64_t)mem };
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) { perror("memory"); return 1; }
  ioctl(vm, KVM_SET_TSS_ADDR, 0xfeffd000);
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  int runsz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(NULL, runsz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  struct kvm_sregs sregs;
  ioctl(vcpu, KVM_GET_SREGS, &sregs);
  sregs.cs.selector = 0x1000; sregs.cs.base = 0x10000;
  sregs.ds = sregs.es = sregs.ss = sregs.cs;
  sregs.ds.type = sregs.es.type = sregs.ss.type = 3;
  ioctl(vcpu, KVM_SET_SREGS, &sregs);
  struct kvm_regs regs = { .rip = 0, .rsp = 0xfff0, .rflags = 2 };
  ioctl(vcpu, KVM_SET_REGS, &regs);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  unsigned long exits = 0;
  for (;;) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) { perror("KVM_RUN"); return 1; }
    if (run->exit_reason != KVM_EXIT_IO) { fprintf(stderr, "unexpected exit %u\n", run->exit_reason); return 1; }
    exits++;
    if (run->io.port == 0x501) break;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("%lu %.0f\n", exits, exits / s);
  return 0;
}
