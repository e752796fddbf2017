// The few libc calls KVM needs, through koffi (FFI with prebuilt binaries in the npm
// package): open/close, ioctl in its two argument shapes, mmap/munmap, pthread_kill for
// kicking a vCPU out of KVM_RUN. Structs are passed as Uint8Array buffers whose layout
// abi.ts describes; koffi hands a typed array to a `void *` parameter as its address.
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');

export const O_RDWR = 2;
export const O_CLOEXEC = 0x80000;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;

export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EAGAIN = 11;
export const EACCES = 13;
export const EBUSY = 16;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENOTTY = 25;
export const E2BIG = 7;

export const open = libc.func('int open(const char *path, int flags)');
export const close = libc.func('int close(int fd)');
/** ioctl whose argument is a pointer to a struct (or NULL). */
export const ioctlPtr = libc.func('int ioctl(int fd, unsigned long request, void *arg)');
/** ioctl whose argument is a plain integer (KVM_CREATE_VCPU, KVM_SET_TSS_ADDR, KVM_RUN...). */
export const ioctlInt = libc.func('int ioctl(int fd, unsigned long request, unsigned long arg)');
export const mmap = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)');
export const munmap = libc.func('int munmap(void *addr, size_t length)');
export const strerror = libc.func('const char *strerror(int errnum)');
export const pthreadSelf = libc.func('unsigned long pthread_self()');
export const pthreadKill = libc.func('int pthread_kill(unsigned long thread, int sig)');
export const gettid = libc.func('int gettid()');
export const dlsym = libc.func('void *dlsym(void *handle, const char *name)');
export const sigaction = libc.func('int sigaction(int sig, void *act, void *oldact)');
export const currentSigrtmin = libc.func('int __libc_current_sigrtmin()');
// timer_t is a pointer in glibc; carried here as the integer it is on x86-64.
export const timerCreate = libc.func('int timer_create(int clockid, void *sevp, void *timerid)');
export const timerSettime = libc.func('int timer_settime(uint64_t timerid, int flags, void *newValue, void *oldValue)');
export const timerDelete = libc.func('int timer_delete(uint64_t timerid)');

export const CLOCK_MONOTONIC = 1;
export const SIGEV_THREAD_ID = 4;
export const SA_RESTART = 0x10000000;

export function errno(): number {
  return koffi.errno();
}

export function describeErrno(code: number): string {
  return `${strerror(code)} (errno ${code})`;
}

/** mmap's MAP_FAILED is (void *)-1. */
export function isMapFailed(ptr: unknown): boolean {
  return ptr === null || koffi.address(ptr) === 0xffff_ffff_ffff_ffffn;
}

export const view = koffi.view;
export const address = koffi.address;
