// A vCPU's own thread (issue 9, SMP on KVM): KVM_RUN blocks, so each vCPU of a multi-vCPU
// guest loops on it in a worker of its own. The thread does nothing but enter the guest
// and hand every exit to the device thread (vcpu-handoff.ts), waiting until it is served;
// a VcpuTicker signals it out of KVM_RUN now and then so a STOP is seen even while its
// vCPU sleeps in HLT inside the kernel (in-kernel LAPIC), or waits for INIT/SIPI.
import { workerData } from 'node:worker_threads';
import * as abi from './abi.js';
import * as libc from './libc.js';
import { DOORBELL, errnoSlot, stateSlot, VCPU_EXITED, VCPU_RESUME, VCPU_RUNNING, VCPU_STOP, type VcpuThreadData } from './vcpu-handoff.js';
import { VcpuTicker } from './vcpu-ticker.js';

function runVcpu(data: VcpuThreadData): void {
  const ctl = new Int32Array(data.control);
  const state = stateSlot(data.index);
  const err = errnoSlot(data.index, data.vcpus);
  const ticker = new VcpuTicker(data.tickMs);
  try {
    for (;;) {
      if (Atomics.load(ctl, state) === VCPU_STOP) return;
      if (libc.ioctlInt(data.fd, abi.KVM_RUN, 0) < 0) {
        const code = libc.errno();
        if (code === libc.EINTR || code === libc.EAGAIN) continue;
        Atomics.store(ctl, err, code);
      }
      // Hand the exit over, unless a STOP came first.
      if (Atomics.compareExchange(ctl, state, VCPU_RUNNING, VCPU_EXITED) === VCPU_STOP) return;
      Atomics.add(ctl, DOORBELL, 1);
      Atomics.notify(ctl, DOORBELL);
      // Sleep on the futex at once: polling first was slower in bench/kvm/machine-exits.ts
      // (the polling thread takes the core the other side needs on a small host).
      while (Atomics.load(ctl, state) === VCPU_EXITED) Atomics.wait(ctl, state, VCPU_EXITED);
      if (Atomics.compareExchange(ctl, state, VCPU_RESUME, VCPU_RUNNING) === VCPU_STOP) return;
    }
  } finally {
    ticker.stop();
  }
}

runVcpu(workerData as VcpuThreadData);
