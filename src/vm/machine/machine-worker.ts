// The vCPU thread (ARCHITECTURE.md "Threads"): builds the whole machine (CPU, devices,
// kernel) from a MachineConfig and runs it, exchanging only bytes and small messages with
// the main thread, which owns the terminal. Guest reboots restart the machine here when
// the config says on_reboot=restart. For long-lived domains (src/lifecycle's runner) it
// also takes the ACPI power button (virsh shutdown: AcpiPm.pressPowerButton, ACPI 6.5
// §4.8.3.1.1) and says 'started' once the machine is built, so errors that only show when
// devices open their images (a lock held elsewhere) reach `tsvirt start`.

import { parentPort, workerData } from 'node:worker_threads';
import type { MachineConfig, MachineResult } from './machine-config.js';
import { createMachine, type PcMachine } from './pc-machine.js';

export type ToWorker = { type: 'input'; bytes: Uint8Array } | { type: 'stop' } | { type: 'power-button' };
export type FromWorker =
  | { type: 'started' }
  | { type: 'serial'; bytes: Uint8Array }
  | { type: 'exit'; result: MachineResult }
  | { type: 'failed'; message: string; name: string; hint?: string; stack?: string };

async function main(config: MachineConfig): Promise<MachineResult> {
  const port = parentPort!;
  let machine: PcMachine | undefined;
  let stopped = false;
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'input') machine?.feedSerial(msg.bytes);
    else if (msg.type === 'power-button') machine?.pm.pressPowerButton();
    else if (msg.type === 'stop') {
      stopped = true;
      machine?.stop();
    }
  });
  const started = performance.now();
  let first = true;
  for (;;) {
    machine = await createMachine(config, { onSerial: (bytes) => port.postMessage({ type: 'serial', bytes } satisfies FromWorker) });
    if (first) port.postMessage({ type: 'started' } satisfies FromWorker);
    first = false;
    if (stopped) machine.stop();
    const left = config.timeoutMs === undefined ? undefined : Math.max(0, config.timeoutMs - (performance.now() - started));
    const result = await machine.run({ timeoutMs: left }).finally(() => machine!.close());
    if (result.kind === 'reset' && config.onReboot === 'restart' && !stopped) continue;
    return result;
  }
}

if (parentPort) {
  main(workerData as MachineConfig).then(
    (result) => parentPort!.postMessage({ type: 'exit', result } satisfies FromWorker),
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      const hint = (e as { hint?: string }).hint;
      parentPort!.postMessage({ type: 'failed', message: e.message, name: e.name, hint, stack: e.stack } satisfies FromWorker);
    },
  );
}
