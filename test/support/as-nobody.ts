// Tests that check what an unprivileged user sees (EACCES on /dev/kvm, a missing tool) run
// the built code as nobody through setpriv. That needs root, and a checkout nobody can
// read: a clone under root's home (mode 0700, e.g. /root/tsvirt) is not. Where either is
// missing, such a test skips with the reason printed instead of failing for a reason that
// is not what it tests.
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

let reason: string | null | undefined;

/** Why tests cannot run code as nobody here, or null when they can. */
export function whyNotAsNobody(): string | null {
  if (reason !== undefined) return reason;
  if (process.getuid?.() !== 0) return (reason = 'not root: cannot switch to nobody');
  const setpriv = spawnSync('bash', ['-c', 'command -v setpriv'], { encoding: 'utf8' }).stdout.trim();
  if (!setpriv) return (reason = 'setpriv (util-linux) is missing');
  const probe = spawnSync(setpriv, [...NOBODY, 'test', '-r', `${REPO}/package.json`]);
  reason = probe.status === 0 ? null : `nobody cannot read the checkout at ${REPO} (a parent directory is private, e.g. under /root): clone it elsewhere to run this test`;
  if (reason) console.log(`skipping tests run as nobody: ${reason}`);
  return reason;
}

/** Absolute path of setpriv (resolved with the caller's PATH, whatever PATH the child gets). */
export function setprivPath(): string {
  return execFileSync('bash', ['-c', 'command -v setpriv'], { encoding: 'utf8' }).trim();
}
