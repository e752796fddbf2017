// Boot-to-marker wall time of one kernel + initramfs, under tsvirt (the built dist/
// runMachine), QEMU TCG, or the v86 npm package (32-bit kernels only); prints one line
// "<seconds>" or "FAIL <why>".
// Usage: node boot-to-marker.mjs tsvirt|qemu-x86_64|qemu-i386|v86 KERNEL INITRD MARKER [TIMEOUT_S]
// The v86 engine boots through SeaBIOS from Debian's seabios package (a qemu-system-x86
// dependency); V86_BIOS / V86_VGA_BIOS override the paths, V86_CMDLINE_EXTRA adds kernel
// parameters, V86_LOG=1 copies the serial console to stderr.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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
} else if (engine === 'v86') {
  await bootV86().catch((e) => {
    console.log(`FAIL v86: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  });
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

async function bootV86() {
  const biosPath = process.env.V86_BIOS ?? '/usr/share/seabios/bios.bin';
  const vgaBiosPath = process.env.V86_VGA_BIOS ?? '/usr/share/seabios/vgabios-stdvga.bin';
  const pkgMain = createRequire(import.meta.url).resolve('v86');
  const { V86 } = await import(pkgMain);
  // v86 takes images as ArrayBuffers; a Buffer's .buffer may be a shared pool, so copy.
  const image = (path) => ({ buffer: new Uint8Array(readFileSync(path)).buffer });
  const extra = process.env.V86_CMDLINE_EXTRA ? ` ${process.env.V86_CMDLINE_EXTRA}` : '';
  const emulator = new V86({
    wasm_path: new URL('v86.wasm', `file://${pkgMain}`).pathname,
    memory_size: 256 << 20,
    bios: image(biosPath),
    vga_bios: image(vgaBiosPath),
    bzimage: image(kernel),
    initrd: image(initrd),
    cmdline: cmdline + extra,
    autostart: true,
  });
  const log = process.env.V86_LOG === '1';
  let tail = '';
  let done = false;
  emulator.add_listener('serial0-output-byte', (byte) => {
    if (done) return;
    if (log) process.stderr.write(String.fromCharCode(byte));
    tail = (tail + String.fromCharCode(byte)).slice(-4096);
    if (tail.includes(marker)) {
      done = true;
      console.log(elapsed());
      clearTimeout(deadline);
      emulator.destroy();
      process.exit(0);
    }
  });
}
