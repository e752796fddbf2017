/*
 * Runs x86-64 instruction snippets on the host CPU with given inputs and prints the
 * outputs: the reference side of the software CPU's differential tests
 * (the *.test.ts files beside it). Built at test time with the system C compiler.
 *
 * Layout shared with the TypeScript side (test/vm/cpu/support/diff-layout.ts): the data
 * buffer lives at DATA_VA (0x10000F80: it straddles a page boundary) and the snippet at
 * CODE_VA in both worlds, so absolute and
 * RIP-relative addresses agree. A prologue loads every GPR, RFLAGS (arithmetic flags
 * and DF only: AC would turn misaligned accesses into SIGBUS, TF into SIGTRAP) and
 * XMM0-XMM3 from the state block at STATE_VA, jumps to the snippet, and the snippet's
 * trailer (jmp [rip+0]) returns to an epilogue that stores them all back.
 * GS.base is DATA_VA on both sides (ARCH_SET_GS here; glibc uses FS for TLS, not GS), so
 * GS-prefixed operands address the data buffer.
 * A fault inside the snippet (#DE, #UD, #GP...) arrives as a signal; the handler reports
 * the architectural vector (REG_TRAPNO), the faulting RIP and the registers at the fault.
 *
 * 32-bit snippets run in compatibility mode: a 64-bit stub in the code page far-jumps to
 * the snippet, whose trailer far-jumps back to a 64-bit stub that returns to the
 * epilogue; DS/ES hold __USER_DS (0x2b) so 32-bit addressing works. The 32-bit code
 * segment is chosen on the command line (the TypeScript side probes which one works,
 * see compat32Support() in differential.ts):
 *   --compat32=gdt    Linux's __USER32_CS (0x23), the default;
 *   --compat32=ldt    a flat 32-bit code segment this process installs in LDT entry 0
 *                     with modify_ldt (selector 0x7), for kernels whose 0x23 is unusable;
 *   --compat32=<hex>  that selector as it is (the probe's self-test uses one that faults).
 *
 * Protocol (text lines on stdin, one answer line per case on stdout, all numbers hex):
 *   S <code bytes>                  select a 64-bit snippet for the following cases
 *   T <code bytes>                  select a 32-bit (compatibility mode) snippet
 *   R <16 gprs> <rflags> <8 xmm qwords> <256 data bytes | ->
 *       GPR order is the encoding order rax rcx rdx rbx rsp rbp rsi rdi r8..r15;
 *       '-' leaves the data buffer alone and omits it from the answer.
 *   answer:  O <16 gprs> <rflags> <8 xmm qwords> <data | ->
 *       or   X <vector> <rip> <16 gprs> <rflags>
 * Leaves out: x87 state, MXCSR inputs (left at the ABI default 0x1F80), AVX.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <asm/ldt.h>
#include <asm/prctl.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define DATA_MAP_VA 0x10000000UL
#define DATA_MAP_BYTES 0x10000UL
/* The compared buffer straddles a page boundary (at offset 0x80), so that memory operands
 * near the middle cross pages; the guest maps the two pages to distant frames. */
#define DATA_VA (DATA_MAP_VA + 0xf80UL)
#define DATA_BYTES 256
#define STATE_VA 0x10100000UL
#define CODE_VA 0x20000000UL
#define CODE_MAP_BYTES 0x2000UL
#define MAX_LINE (1 << 16)
#define USER32_CS 0x23
#define LDT_CODE32_CS 0x07 /* LDT entry 0, TI=1, RPL 3 */
#define USER64_CS 0x33
#define STUB_TO_COMPAT (CODE_VA + 0x1900)  /* jmp far [rip+0] -> compat_cs:CODE_VA */
#define STUB_FROM_COMPAT (CODE_VA + 0x1800) /* jmp [rip+0] -> snippet_return */

/* RFLAGS bits a case may set: CF PF AF ZF SF DF OF (bit 1 is always one). */
#define RFLAGS_INPUT_MASK 0xDD5UL

struct state {
  uint64_t gpr[16];
  uint64_t rflags;
  uint64_t pad0;
  uint64_t xmm[8];
  uint8_t pad1[0x30];
  uint64_t host_rsp;
  uint64_t entry;
};
_Static_assert(__builtin_offsetof(struct state, rflags) == 0x80, "layout");
_Static_assert(__builtin_offsetof(struct state, xmm) == 0x90, "layout");
_Static_assert(__builtin_offsetof(struct state, host_rsp) == 0x100, "layout");
_Static_assert(__builtin_offsetof(struct state, entry) == 0x108, "layout");

void run_snippet(void);
extern char snippet_return[];

/* The prologue/epilogue address the state block by absolute disp32 so that no register
 * has to survive the switch. */
__asm__(
    ".intel_syntax noprefix\n"
    ".text\n"
    ".globl run_snippet\n"
    "run_snippet:\n"
    "  push rbx\n  push rbp\n  push r12\n  push r13\n  push r14\n  push r15\n"
    "  mov eax, 0x2b\n  mov ds, eax\n  mov es, eax\n"
    "  mov qword ptr [0x10100100], rsp\n"
    "  movdqu xmm0, xmmword ptr [0x10100090]\n"
    "  movdqu xmm1, xmmword ptr [0x101000a0]\n"
    "  movdqu xmm2, xmmword ptr [0x101000b0]\n"
    "  movdqu xmm3, xmmword ptr [0x101000c0]\n"
    "  push qword ptr [0x10100080]\n"
    "  popfq\n"
    "  mov rax, qword ptr [0x10100000]\n"
    "  mov rcx, qword ptr [0x10100008]\n"
    "  mov rdx, qword ptr [0x10100010]\n"
    "  mov rbx, qword ptr [0x10100018]\n"
    "  mov rbp, qword ptr [0x10100028]\n"
    "  mov rsi, qword ptr [0x10100030]\n"
    "  mov rdi, qword ptr [0x10100038]\n"
    "  mov r8, qword ptr [0x10100040]\n"
    "  mov r9, qword ptr [0x10100048]\n"
    "  mov r10, qword ptr [0x10100050]\n"
    "  mov r11, qword ptr [0x10100058]\n"
    "  mov r12, qword ptr [0x10100060]\n"
    "  mov r13, qword ptr [0x10100068]\n"
    "  mov r14, qword ptr [0x10100070]\n"
    "  mov r15, qword ptr [0x10100078]\n"
    "  mov rsp, qword ptr [0x10100020]\n"
    "  jmp qword ptr [0x10100108]\n"
    ".globl snippet_return\n"
    "snippet_return:\n"
    "  mov qword ptr [0x10100020], rsp\n"
    "  mov rsp, qword ptr [0x10100100]\n"
    "  pushfq\n"
    "  pop qword ptr [0x10100080]\n"
    "  mov qword ptr [0x10100000], rax\n"
    "  mov qword ptr [0x10100008], rcx\n"
    "  mov qword ptr [0x10100010], rdx\n"
    "  mov qword ptr [0x10100018], rbx\n"
    "  mov qword ptr [0x10100028], rbp\n"
    "  mov qword ptr [0x10100030], rsi\n"
    "  mov qword ptr [0x10100038], rdi\n"
    "  mov qword ptr [0x10100040], r8\n"
    "  mov qword ptr [0x10100048], r9\n"
    "  mov qword ptr [0x10100050], r10\n"
    "  mov qword ptr [0x10100058], r11\n"
    "  mov qword ptr [0x10100060], r12\n"
    "  mov qword ptr [0x10100068], r13\n"
    "  mov qword ptr [0x10100070], r14\n"
    "  mov qword ptr [0x10100078], r15\n"
    "  movdqu xmmword ptr [0x10100090], xmm0\n"
    "  movdqu xmmword ptr [0x101000a0], xmm1\n"
    "  movdqu xmmword ptr [0x101000b0], xmm2\n"
    "  movdqu xmmword ptr [0x101000c0], xmm3\n"
    "  cld\n"
    "  fninit\n" /* x87 snippets may leave a control word; the C side expects the default */
    "  pop r15\n  pop r14\n  pop r13\n  pop r12\n  pop rbp\n  pop rbx\n"
    "  ret\n"
    ".att_syntax prefix\n");

static struct state *const st = (struct state *)STATE_VA;
static uint8_t *const data = (uint8_t *)DATA_VA;
static uint8_t *const code = (uint8_t *)CODE_VA;

static sigjmp_buf fault_env;
static volatile sig_atomic_t in_snippet;
static struct {
  uint64_t vector, rip, rflags;
  uint64_t gpr[16];
} fault;

/* ucontext register slots in encoding order (rax rcx rdx rbx rsp rbp rsi rdi r8..r15). */
static const int greg_slot[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                  REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

static void on_fault(int sig, siginfo_t *info, void *ctx) {
  (void)info;
  if (!in_snippet) {
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  ucontext_t *uc = ctx;
  fault.vector = (uint64_t)uc->uc_mcontext.gregs[REG_TRAPNO];
  fault.rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
  fault.rflags = (uint64_t)uc->uc_mcontext.gregs[REG_EFL];
  for (int i = 0; i < 16; i++) fault.gpr[i] = (uint64_t)uc->uc_mcontext.gregs[greg_slot[i]];
  in_snippet = 0;
  siglongjmp(fault_env, 1);
}

static void *map_fixed(unsigned long va, unsigned long len, int prot) {
  void *p = mmap((void *)va, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED || p != (void *)va) {
    fprintf(stderr, "native-runner: cannot map 0x%lx+0x%lx\n", va, len);
    exit(2);
  }
  return p;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static char *skip_spaces(char *p) {
  while (*p == ' ') p++;
  return p;
}

static char *parse_u64(char *p, uint64_t *out) {
  p = skip_spaces(p);
  uint64_t v = 0;
  int n = 0, d;
  while ((d = hexval(*p)) >= 0) {
    v = (v << 4) | (uint64_t)d;
    p++;
    n++;
  }
  if (n == 0 || n > 16) {
    fprintf(stderr, "native-runner: bad number near '%.20s'\n", p);
    exit(2);
  }
  *out = v;
  return p;
}

static char *parse_bytes(char *p, uint8_t *out, size_t max, size_t *len) {
  p = skip_spaces(p);
  size_t n = 0;
  while (hexval(p[0]) >= 0 && hexval(p[1]) >= 0) {
    if (n == max) {
      fprintf(stderr, "native-runner: too many bytes\n");
      exit(2);
    }
    out[n++] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
    p += 2;
  }
  *len = n;
  return p;
}

static char outbuf[1 << 16];

static char *put_u64(char *o, uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  *o++ = ' ';
  for (int s = 60; s >= 0; s -= 4) *o++ = digits[(v >> s) & 15];
  return o;
}

/* Installs a flat 32-bit ring-3 code segment (base 0, limit 4 GiB, D=1, not L) in LDT
 * entry 0. Returns 0, or the errno of modify_ldt. */
static int install_ldt_code32(void) {
  struct user_desc d;
  memset(&d, 0, sizeof d);
  d.entry_number = 0;
  d.base_addr = 0;
  d.limit = 0xfffff;
  d.seg_32bit = 1;
  d.contents = MODIFY_LDT_CONTENTS_CODE;
  d.read_exec_only = 0;
  d.limit_in_pages = 1;
  d.seg_not_present = 0;
  d.useable = 1;
  return syscall(SYS_modify_ldt, 1, &d, sizeof d) == 0 ? 0 : errno;
}

static uint16_t compat_cs = USER32_CS;

static void parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--compat32=", 11) != 0) {
      fprintf(stderr, "native-runner: unknown argument '%s'\n", a);
      exit(2);
    }
    a += 11;
    if (strcmp(a, "gdt") == 0) {
      compat_cs = USER32_CS;
    } else if (strcmp(a, "ldt") == 0) {
      int err = install_ldt_code32();
      if (err) {
        fprintf(stderr, "native-runner: modify_ldt (32-bit code segment in LDT entry 0) failed: %s\n", strerror(err));
        exit(3);
      }
      compat_cs = LDT_CODE32_CS;
    } else {
      char *end;
      unsigned long sel = strtoul(a, &end, 16);
      if (*a == 0 || *end != 0 || sel > 0xffff) {
        fprintf(stderr, "native-runner: bad --compat32 value '%s'\n", a);
        exit(2);
      }
      compat_cs = (uint16_t)sel;
    }
  }
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  map_fixed(DATA_MAP_VA, DATA_MAP_BYTES, PROT_READ | PROT_WRITE);
  map_fixed(STATE_VA, 0x1000, PROT_READ | PROT_WRITE);
  map_fixed(CODE_VA, CODE_MAP_BYTES, PROT_READ | PROT_WRITE | PROT_EXEC);
  if (syscall(SYS_arch_prctl, ARCH_SET_GS, DATA_VA) != 0) {
    fprintf(stderr, "native-runner: cannot set the GS base\n");
    return 2;
  }

  static uint8_t altstack[1 << 16];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) return 2;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  int sigs[] = {SIGFPE, SIGSEGV, SIGILL, SIGBUS, SIGTRAP};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);

  char *line = malloc(MAX_LINE);
  size_t snippet_len = 0;
  int have_snippet = 0, compat = 0;
  while (fgets(line, MAX_LINE, stdin)) {
    char *p = line;
    if (*p == 'S' || *p == 'T') {
      uint8_t buf[0x1800 - 16];
      compat = *p == 'T';
      p = parse_bytes(p + 1, buf, sizeof buf, &snippet_len);
      memcpy(code, buf, snippet_len);
      static const uint8_t jmp_abs[6] = {0xff, 0x25, 0, 0, 0, 0};
      uint64_t back = (uint64_t)(uintptr_t)snippet_return;
      if (!compat) {
        /* Trailer: jmp qword ptr [rip+0]; .quad snippet_return */
        memcpy(code + snippet_len, jmp_abs, 6);
        memcpy(code + snippet_len + 6, &back, 8);
      } else {
        /* Trailer: jmp far USER64_CS:STUB_FROM_COMPAT (EA ptr16:32), then that stub. */
        uint8_t *t = code + snippet_len;
        uint32_t off = (uint32_t)STUB_FROM_COMPAT;
        uint16_t sel = USER64_CS;
        t[0] = 0xea;
        memcpy(t + 1, &off, 4);
        memcpy(t + 5, &sel, 2);
        uint8_t *from = code + (STUB_FROM_COMPAT - CODE_VA);
        memcpy(from, jmp_abs, 6);
        memcpy(from + 6, &back, 8);
        /* Entry stub: jmp far [rip+0] (FF /5, m16:32) -> compat_cs:CODE_VA. */
        uint8_t *to = code + (STUB_TO_COMPAT - CODE_VA);
        static const uint8_t jmp_far[6] = {0xff, 0x2d, 0, 0, 0, 0};
        uint32_t entry = (uint32_t)CODE_VA;
        uint16_t sel32 = compat_cs;
        memcpy(to, jmp_far, 6);
        memcpy(to + 6, &entry, 4);
        memcpy(to + 10, &sel32, 2);
      }
      __builtin___clear_cache((char *)code, (char *)code + CODE_MAP_BYTES);
      have_snippet = 1;
      continue;
    }
    if (*p != 'R') {
      if (*p == '\n' || *p == 0) continue;
      fprintf(stderr, "native-runner: unknown command '%c'\n", *p);
      return 2;
    }
    if (!have_snippet) {
      fprintf(stderr, "native-runner: case before snippet\n");
      return 2;
    }
    p++;
    for (int i = 0; i < 16; i++) p = parse_u64(p, &st->gpr[i]);
    uint64_t fl;
    p = parse_u64(p, &fl);
    st->rflags = (fl & RFLAGS_INPUT_MASK) | 2;
    for (int i = 0; i < 8; i++) p = parse_u64(p, &st->xmm[i]);
    p = skip_spaces(p);
    int with_data = *p != '-';
    if (with_data) {
      size_t n;
      p = parse_bytes(p, data, DATA_BYTES, &n);
      if (n != DATA_BYTES) {
        fprintf(stderr, "native-runner: data must be %d bytes\n", DATA_BYTES);
        return 2;
      }
    }
    st->entry = compat ? STUB_TO_COMPAT : CODE_VA;
    char *o = outbuf;
    if (sigsetjmp(fault_env, 1) == 0) {
      in_snippet = 1;
      run_snippet();
      in_snippet = 0;
      *o++ = 'O';
      for (int i = 0; i < 16; i++) o = put_u64(o, st->gpr[i]);
      o = put_u64(o, st->rflags);
      for (int i = 0; i < 8; i++) o = put_u64(o, st->xmm[i]);
      *o++ = ' ';
      if (with_data) {
        static const char digits[] = "0123456789abcdef";
        for (int i = 0; i < DATA_BYTES; i++) {
          *o++ = digits[data[i] >> 4];
          *o++ = digits[data[i] & 15];
        }
      } else {
        *o++ = '-';
      }
    } else {
      *o++ = 'X';
      o = put_u64(o, fault.vector);
      o = put_u64(o, fault.rip);
      for (int i = 0; i < 16; i++) o = put_u64(o, fault.gpr[i]);
      o = put_u64(o, fault.rflags);
    }
    *o++ = '\n';
    fwrite(outbuf, 1, (size_t)(o - outbuf), stdout);
  }
  fflush(stdout);
  return 0;
}
