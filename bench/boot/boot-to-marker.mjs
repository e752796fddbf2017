// Boot-to-marker wall time of one kernel + initramfs, under tsvirt (the built dist/
// runMachine) or under QEMU TCG; prints one line "<seconds>" or "FAIL <why>".
// Usage: node boot-to-marker.mjs tsvirt|qemu-x86_64|qemu-i386 KERNEL INITRD MARKER [TIMEOUT_S]
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';

const [engine, kernel, initrd, marker, timeoutS = '600'] = process.argv.slice(2);
const cmdline = 'console=ttyS0 panic=-1';
const started = performance.now();
const elapsed = () => ((performance.now() - started) / 1000).toFixed(2);
const deadline = setTimeout(() => {
  console.log(`FAIL timeout after ${timeoutS}s`);
  process.exit(1);
}, Number(timeoutS) * 1000);

function watch(stream, onMarker) {
  let tail = '';
  stream.on('data', (c) => {
    tail = (tail + c.toString('latin1')).slice(-4096);
    if (tail.includes(marker)) onMarker();
  });
}

if (engine === 'tsvirt') {
  const dist = new URL('../../dist/vm/machine/index.js', import.meta.url);
  const { runMachine } = await import(fileURLToPath(dist));
  const out = new PassThrough();
  const ac = new AbortController();
  let t;
  watch(out, () => {
    if (t === undefined) {
      t = elapsed();
      ac.abort();
    }
  });
  const r = await runMachine({ memoryBytes: 256 << 20, vcpus: 1, kernel, initrd, cmdline }, { stdout: out, signal: ac.signal });
  clearTimeout(deadline);
  console.log(t ?? `FAIL ${r.kind} ${r.message ?? ''} :: ${r.lastConsoleLines.slice(-3).join(' | ')}`);
} else {
  const bin = engine === 'qemu-i386' ? 'qemu-system-i386' : 'qemu-system-x86_64';
  const q = spawn(bin, ['-accel', 'tcg', '-m', '256', '-smp', '1', '-nographic', '-no-reboot', '-kernel', kernel, '-initrd', initrd, '-append', cmdline], { stdio: ['ignore', 'pipe', 'inherit'] });
  let done = false;
  watch(q.stdout, () => {
    if (done) return;
    done = true;
    console.log(elapsed());
    clearTimeout(deadline);
    q.kill('SIGKILL');
  });
  q.on('exit', () => {
    if (!done) {
      console.log('FAIL qemu exited before the marker');
      process.exit(1);
    }
  });
}
