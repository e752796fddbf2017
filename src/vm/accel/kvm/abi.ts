// The KVM userspace ABI for x86-64 as tsvirt uses it: ioctl numbers, exit reasons,
// capabilities and struct layouts, from the Linux UAPI headers include/uapi/linux/kvm.h
// and arch/x86/include/uapi/asm/kvm.h (checked against the host's headers with a C
// program printing sizeof/offsetof). Only what tsvirt calls is listed.

export const KVM_API_VERSION = 12;

export const KVM_GET_API_VERSION = 0xae00;
export const KVM_CREATE_VM = 0xae01;
export const KVM_CHECK_EXTENSION = 0xae03;
export const KVM_GET_VCPU_MMAP_SIZE = 0xae04;
export const KVM_GET_SUPPORTED_CPUID = 0xc008ae05;
export const KVM_CREATE_VCPU = 0xae41;
export const KVM_SET_USER_MEMORY_REGION = 0x4020ae46;
export const KVM_SET_TSS_ADDR = 0xae47;
export const KVM_SET_IDENTITY_MAP_ADDR = 0x4008ae48;
export const KVM_CREATE_IRQCHIP = 0xae60;
export const KVM_IRQ_LINE = 0x4008ae61;
export const KVM_CREATE_PIT2 = 0x4040ae77;
export const KVM_RUN = 0xae80;
export const KVM_GET_REGS = 0x8090ae81;
export const KVM_SET_REGS = 0x4090ae82;
export const KVM_GET_SREGS = 0x8138ae83;
export const KVM_SET_SREGS = 0x4138ae84;
export const KVM_SET_CPUID2 = 0x4008ae90;
export const KVM_SET_MSRS = 0x4008ae89;
export const KVM_GET_MSRS = 0xc008ae88;
export const KVM_SIGNAL_MSI = 0x4020aea5;
export const KVM_SET_GSI_ROUTING = 0x4008ae6a;

export const KVM_CAP_IRQCHIP = 0x00;
export const KVM_CAP_USER_MEMORY = 0x03;
export const KVM_CAP_SET_TSS_ADDR = 0x04;
export const KVM_CAP_EXT_CPUID = 0x07;
export const KVM_CAP_PIT2 = 0x21;
export const KVM_CAP_IRQ_ROUTING = 0x19;
export const KVM_CAP_SIGNAL_MSI = 0x4d;
export const KVM_CAP_IMMEDIATE_EXIT = 0x88;
export const KVM_CAP_MAX_VCPUS = 0x42;

/** What tsvirt needs, checked once at VM creation so a missing one is a clear error. */
export const REQUIRED_CAPS: ReadonlyArray<[number, string]> = [
  [KVM_CAP_USER_MEMORY, 'KVM_CAP_USER_MEMORY'],
  [KVM_CAP_SET_TSS_ADDR, 'KVM_CAP_SET_TSS_ADDR'],
  [KVM_CAP_EXT_CPUID, 'KVM_CAP_EXT_CPUID'],
  [KVM_CAP_IMMEDIATE_EXIT, 'KVM_CAP_IMMEDIATE_EXIT'],
];

export const KVM_EXIT_UNKNOWN = 0;
export const KVM_EXIT_EXCEPTION = 1;
export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_IRQ_WINDOW_OPEN = 7;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_FAIL_ENTRY = 9;
export const KVM_EXIT_INTR = 10;
export const KVM_EXIT_INTERNAL_ERROR = 17;
export const KVM_EXIT_SYSTEM_EVENT = 24;

export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

export const KVM_SYSTEM_EVENT_SHUTDOWN = 1;
export const KVM_SYSTEM_EVENT_RESET = 2;
export const KVM_SYSTEM_EVENT_CRASH = 3;

export const KVM_PIT_SPEAKER_DUMMY = 1;

/** struct kvm_irq_routing_entry: gsi, type, flags, pad, then a 32-byte union. */
export const IRQ_ROUTING_ENTRY_SIZE = 48;
export const KVM_IRQ_ROUTING_IRQCHIP = 1;
export const KVM_IRQCHIP_PIC_MASTER = 0;
export const KVM_IRQCHIP_PIC_SLAVE = 1;
export const KVM_IRQCHIP_IOAPIC = 2;

/** struct kvm_run (the mmap'd per-vCPU area). */
export const RUN = {
  immediateExit: 0x01,
  exitReason: 0x08,
  ifFlag: 0x0d,
  // union at 0x20
  ioDirection: 0x20,
  ioSize: 0x21,
  ioPort: 0x22,
  ioCount: 0x24,
  ioDataOffset: 0x28,
  mmioPhysAddr: 0x20,
  mmioData: 0x28,
  mmioLen: 0x30,
  mmioIsWrite: 0x34,
  failEntryReason: 0x20,
  failEntryCpu: 0x28,
  internalSuberror: 0x20,
  internalNdata: 0x24,
  internalData: 0x28,
  systemEventType: 0x20,
} as const;

/** struct kvm_regs: 18 u64 in this order. */
export const REGS_SIZE = 144;
export const REGS_ORDER = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags',
] as const;

/** struct kvm_sregs. */
export const SREGS_SIZE = 312;
export const SEGMENT_SIZE = 24;
export const SREGS_SEGMENTS = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldtr'] as const; // ldt at slot 7
export const SREGS = {
  gdt: 0xc0,
  idt: 0xd0,
  cr0: 0xe0,
  cr2: 0xe8,
  cr3: 0xf0,
  cr4: 0xf8,
  cr8: 0x100,
  efer: 0x108,
  apicBase: 0x110,
} as const;
/** struct kvm_segment field offsets. */
export const SEG = {
  base: 0, limit: 8, selector: 12, type: 14, present: 15, dpl: 16, db: 17, s: 18, l: 19, g: 20, avl: 21, unusable: 22,
} as const;

export const CPUID_ENTRY_SIZE = 40; // struct kvm_cpuid_entry2
export const MSR_ENTRY_SIZE = 16; // struct kvm_msr_entry
