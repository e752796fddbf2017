// The runner process's entry point: `node runner-main.js STATE_DIR NAME XML_PATH`, spawned
// detached (its own session and process group, so closing the terminal that ran
// `tsvirt start` sends it no SIGHUP) with stderr on the domain's runner log and an IPC
// channel that carries exactly one message back to the starter, ready or the error, and is
// then closed.
import { describeError, TsvirtError } from '../lib/errors.js';
import type { RunnerHello } from './control-protocol.js';
import { DomainRunner } from './runner.js';

/** How long a guest gets to power off after SIGTERM before it is stopped hard. */
const SIGTERM_GRACE_MS = Number(process.env.TSVIRT_SHUTDOWN_TIMEOUT_SECONDS ?? 60) * 1000;

const [stateDir, name, xmlPath] = process.argv.slice(2);
// Everything the runner creates (socket, pid file, logs) is for its owner only.
process.umask(0o077);

let told: Promise<void> = Promise.resolve();
function tell(m: RunnerHello): void {
  if (!process.send || !process.connected) return;
  // Exiting before the message is flushed would lose a start error: keep the promise.
  told = new Promise((resolve) => {
    process.send!(m, () => {
      if (process.connected) process.disconnect();
      resolve();
    });
  });
}

if (!stateDir || !name || !xmlPath) {
  process.stderr.write('usage: runner-main STATE_DIR NAME XML_PATH\n');
  process.exit(2);
}

const runner = new DomainRunner({
  stateDir,
  name,
  xmlPath,
  log: (line) => process.stderr.write(`${line}\n`),
  onReady: (err) => {
    if (err === undefined) tell({ type: 'ready', pid: process.pid });
    else tell({ type: 'error', message: err instanceof TsvirtError ? err.message : describeError(err), hint: err instanceof TsvirtError ? err.hint : undefined });
  },
});
process.on('SIGHUP', () => {});
// SIGTERM (systemd stopping the unit at host shutdown, kill PID) shuts the guest down the
// way libvirt-guests does: the ACPI power button, then a hard stop if it is not off within
// the grace period or on a second SIGTERM. SIGINT stops it at once.
let terms = 0;
process.on('SIGTERM', () => {
  if (terms++ > 0) {
    runner.destroy();
    return;
  }
  runner.pressPowerButton({ reboot: false });
  setTimeout(() => runner.destroy(), SIGTERM_GRACE_MS).unref();
});
process.on('SIGINT', () => runner.destroy());

runner.run().then(
  () => told.then(() => process.exit(0)),
  () => told.then(() => process.exit(1)),
);
