// The hand-off between a vCPU thread (vcpu-thread.ts) and the device thread (the machine's
// thread, which owns the IoBus, the devices and every KVM ioctl but KVM_RUN), through one
// SharedArrayBuffer of Int32 words:
//   [0]            doorbell: bumped (and notified) whenever a vCPU thread hands over an exit
//   [1 + i]        vCPU i's state: RUNNING -> EXITED (thread) -> RESUME (device thread)
//                  -> RUNNING (thread); STOP from the device thread ends the thread
//   [1 + n + i]    errno of a failed KVM_RUN (0: the exit is in kvm_run)
// While a vCPU is EXITED its thread waits, so the device thread may serve the exit through
// its own mapping of that vCPU's kvm_run and use its register ioctls; it never issues a
// vCPU ioctl while the vCPU is RUNNING (KVM_RUN holds the vCPU's lock).

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const VCPU_RUNNING = 0;
export const VCPU_EXITED = 1;
export const VCPU_RESUME = 2;
export const VCPU_STOP = 3;

export const DOORBELL = 0;
export const stateSlot = (index: number): number => 1 + index;
export const errnoSlot = (index: number, vcpus: number): number => 1 + vcpus + index;
export const controlBytes = (vcpus: number): number => 4 * (1 + 2 * vcpus);

export interface VcpuThreadData {
  /** The vCPU's fd (fds are per process, so the thread uses the device thread's). */
  fd: number;
  index: number;
  vcpus: number;
  control: SharedArrayBuffer;
  /** How often the thread is signalled out of KVM_RUN to look for STOP. */
  tickMs: number;
}

/** The thread's script: beside this module when built; dist/ when this runs from src/ (tests). */
export function vcpuThreadUrl(): URL {
  const here = new URL('./vcpu-thread.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = new URL('../../../../dist/vm/accel/kvm/vcpu-thread.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new Error(`vCPU thread script not found at ${fileURLToPath(here)} or ${fileURLToPath(built)}; run npm run build`);
}
