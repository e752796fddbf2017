// Runs one guest on the terminal this process has (used by the tmux console test):
// node console-session.mjs KERNEL INITRD. Imports the built dist/ (npm test builds first).
import { runMachine } from '../../../dist/vm/machine/index.js';

const [kernel, initrd] = process.argv.slice(2);
const r = await runMachine(
  { memoryBytes: 256 * 1024 * 1024, vcpus: 1, kernel, initrd, cmdline: 'console=ttyS0' },
  { stdin: process.stdin, stdout: process.stdout },
);
process.stdout.write(`\r\nMACHINE-EXIT ${r.kind}\r\n`);
