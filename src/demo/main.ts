// Entry of `npm run demo` (node dist/demo/main.js): errors as one ERROR line, like the CLI.
import { describeError } from '../lib/errors.js';
import { abortOnInterrupt } from '../lib/interrupts.js';
import { runDemo } from './run-demo.js';

const controller = new AbortController();
abortOnInterrupt(controller);
try {
  await runDemo({
    interactive: process.stdin.isTTY === true,
    stdin: process.stdin,
    stdout: process.stdout,
    log: (l) => process.stderr.write(`${l}\n`),
    signal: controller.signal,
  });
  process.exit(0);
} catch (err) {
  process.stderr.write(`ERROR ${describeError(err)}\n`);
  if (process.env.TSVIRT_DEBUG === '1' && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
}
