// Runs the real virt-install (Debian virtinst) for many command lines in one Python
// process (virt-install-batch.py), against libvirt's test driver presented as an x86_64
// KVM host (test/fixtures/virt-install/capabilities.xml, as make-refs.sh does): nothing is
// defined or created. The interpreter is the one virt-install's own #! line names, since
// that is the Python that has virtinst's dependencies (gi, libosinfo).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FIXTURE_DIR } from '../reference-fixtures.js';

const SCRIPT = fileURLToPath(new URL('./virt-install-batch.py', import.meta.url));

/** The test-suite connection virt-install's own tests use: predictable UUIDs and MACs, qemu:///system to the code. */
export const VIRT_INSTALL_TEST_URI = `__virtinst_test__test:///default,predictable,fakeuri=qemu:///system,caps=${FIXTURE_DIR}capabilities.xml`;

export interface VirtInstallResult {
  readonly rc: number;
  readonly out: string;
  readonly err: string;
}

function virtInstallPython(): string {
  const which = spawnSync('sh', ['-c', 'command -v virt-install'], { encoding: 'utf8' });
  const path = which.stdout.trim();
  if (which.status !== 0 || path === '') throw new Error('virt-install is not installed (Debian package virtinst; see scripts/prerequisites.txt)');
  const shebang = /^#!\s*(\S+)/.exec(readFileSync(path, 'utf8'))?.[1];
  if (!shebang) throw new Error(`${path}: no #! line naming its Python`);
  return shebang;
}

/**
 * Each argv goes through virt-install's main(); results come back in the same order.
 * Asynchronous, so the test worker keeps answering its runner while virt-install works.
 */
export function runVirtInstallBatch(lines: readonly (readonly string[])[]): Promise<VirtInstallResult[]> {
  const input = lines.map((argv) => JSON.stringify(argv)).join('\n') + '\n';
  return new Promise((resolve, reject) => {
    const child = spawn(virtInstallPython(), [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (status) => {
      if (status !== 0) return reject(new Error(`virt-install batch failed (${status}): ${stderr}`));
      const results = stdout.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as VirtInstallResult);
      if (results.length !== lines.length) return reject(new Error(`virt-install batch answered ${results.length} of ${lines.length} lines: ${stderr}`));
      resolve(results);
    });
    child.stdin.end(input);
  });
}
