// The vCPU thread of a runner (ARCHITECTURE.md "Threads"): the machine-worker loop of
// vm/machine plus the two things a long-lived domain needs that a one-shot boot does not:
// the ACPI power button (virsh shutdown; AcpiPm.pressPowerButton sets PM1_STS.PWRBTN_STS
// and raises the SCI when the guest enabled it, ACPI 6.5 §4.8.3.1.1) and a 'started'
// message once the machine is built, so `tsvirt start` can report errors that only show
// when devices open their images (an image lock held elsewhere) instead of claiming
// success. Guest reboots restart the machine here when the config says on_reboot=restart.
import { parentPort, workerData } from 'node:worker_threads';
import type { MachineConfig, MachineResult } from '../vm/machine/machine-config.js';
import { createMachine, type PcMachine } from '../vm/machine/pc-machine.js';

export type ToGuest = { type: 'input'; bytes: Uint8Array } | { type: 'stop' } | { type: 'power-button' };
export type FromGuest =
  | { type: 'started' }
  | { type: 'serial'; bytes: Uint8Array }
  | { type: 'exit'; result: MachineResult }
  | { type: 'failed'; message: string; name: string; hint?: string; stack?: string };

async function main(config: MachineConfig): Promise<MachineResult> {
  const port = parentPort!;
  let machine: PcMachine | undefined;
  let stopped = false;
  port.on('message', (msg: ToGuest) => {
    if (msg.type === 'input') machine?.feedSerial(msg.bytes);
    else if (msg.type === 'power-button') machine?.pm.pressPowerButton();
    else {
      stopped = true;
      machine?.stop();
    }
  });
  let first = true;
  for (;;) {
    machine = await createMachine(config, { onSerial: (bytes) => port.postMessage({ type: 'serial', bytes } satisfies FromGuest) });
    if (first) port.postMessage({ type: 'started' } satisfies FromGuest);
    first = false;
    if (stopped) machine.stop();
    const result = await machine.run().finally(() => machine!.close());
    if (result.kind === 'reset' && config.onReboot === 'restart' && !stopped) continue;
    return result;
  }
}

if (parentPort) {
  main(workerData as MachineConfig).then(
    (result) => parentPort!.postMessage({ type: 'exit', result } satisfies FromGuest),
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      const hint = (e as { hint?: string }).hint;
      parentPort!.postMessage({ type: 'failed', message: e.message, name: e.name, hint, stack: e.stack } satisfies FromGuest);
    },
  );
}
