// The README's first command, `npm run demo`, as a new user runs it (without a terminal,
// so the demo logs in itself). `npm test` has built dist/ already, so this runs what the
// demo script runs after its build step (rebuilding here would rewrite dist/ under the
// other test files): Debian's kernel and busybox are fetched (cached in the
// user's ~/.cache/tsvirt/demo, as the README says), the tree is built, the kickstart
// install runs on tsvirt's VM core and the installed disk boots to a root shell. On the
// host: the disk checks clean and its root file system is the ext4 the kickstart asked for.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import envPaths from 'env-paths';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));

describe('npm run demo', () => {
  it('installs from the kickstart, boots the installed disk and logs in; the root is ext4', async () => {
    const { status, output } = await new Promise<{ status: number; output: string }>((resolve, reject) => {
      const child = spawn('node', ['dist/demo/main.js'], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString('latin1')));
      child.stderr.on('data', (d: Buffer) => (output += d.toString('latin1')));
      child.once('error', reject);
      child.once('close', (code) => resolve({ status: code ?? -1, output }));
    });
    const steps = output.split('\n').filter((l) => l.startsWith('[demo '));
    console.log(steps.join('\n'));
    expect(status, output.slice(-3000)).toBe(0);
    expect(output).toMatch(/installer file systems: ext2 swap vfat ext3 ext4/);
    expect(output).toMatch(/TSVIRT-INSTALL-STATUS: ok/);
    expect(output).toMatch(/installed by tsvirt on /); // /root/installed-by from %post, shown after login
    const disk = join(envPaths('tsvirt', { suffix: '' }).cache, 'demo', 'tsvirt-demo.qcow2');
    expect(execFileSync('qemu-img', ['check', disk], { encoding: 'utf8' })).toMatch(/No errors were found on the image/);
    // The kickstart's partitions: /boot, swap, / (third); blkid reads the root's type from a raw copy.
    const json = JSON.parse(execFileSync('qemu-img', ['info', '--output', 'json', disk], { encoding: 'utf8' })) as { 'virtual-size': number };
    expect(json['virtual-size']).toBe(1024 ** 3);
    const types = execFileSync('sh', ['-c', `t=$(mktemp) && qemu-img convert -O raw '${disk}' "$t" && for n in 1 3; do off=$(sfdisk -J "$t" | node -e "const p=JSON.parse(require('fs').readFileSync(0)).partitiontable.partitions[$n-1]; console.log(p.start*512)"); blkid -p -O "$off" -o value -s TYPE "$t"; done; rm -f "$t"`], { encoding: 'utf8' });
    expect(types.trim().split('\n')).toEqual(['ext4', 'ext4']);
  }, 1_200_000);
});
