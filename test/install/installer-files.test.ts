import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderInstallerFiles } from '../../src/install/installer-files.js';
import { parseKickstart } from '../../src/install/kickstart/index.js';
import { buildInstallPlan } from '../../src/install/plan/index.js';

const GiB = 1024 ** 3;
let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'tsvirt-ifiles-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KS = `text
zerombr
clearpart --all --initlabel
part /boot --size 64 --fstype ext4
part swap --size 32
part / --grow --fstype ext4 --label root
rootpw --plaintext s3cret
user --name=alice --password=pw --plaintext --groups=wheel --gecos="Alice: the 'admin'"
timezone Europe/Berlin --utc
network --bootproto=dhcp --device=eth0 --hostname=guest1
liveimg --url=http://127.0.0.1:8080/rootfs.tar.gz
bootloader --append="console=ttyS0 quiet it's $(reboot)"
%post --erroronfail --log=/root/post.log
echo marker > /root/marker
%end
poweroff
`;

async function render(ks: string, liveimgName = 'rootfs.tar.gz') {
  const { kickstart, problems } = await parseKickstart(ks, 'ks.cfg');
  expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  const plan = buildInstallPlan(kickstart, [{ target: 'vda', sizeBytes: GiB }], { memoryMiB: 512 });
  return renderInstallerFiles({ plan, kickstartText: ks, kernelRelease: '6.1.0-1-amd64', liveimgName });
}

function extract(entries: Awaited<ReturnType<typeof render>>): string {
  const root = join(dir, Math.random().toString(36).slice(2));
  for (const e of entries) {
    const p = join(root, e.path);
    if (e.type === 'directory') mkdirSync(p, { recursive: true });
    else {
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, e.data!);
    }
  }
  return root;
}

describe('installer files from an install plan', () => {
  it('round-trips every value through a real shell, hostile quoting included', async () => {
    const root = extract(await render(KS));
    const out = execFileSync('sh', ['-c', `. '${root}/tsvirt/plan.sh'; printf '%s\\n' "$TSVIRT_BOOT_APPEND" "$TSVIRT_HOSTNAME" "$TSVIRT_TIMEZONE" "$TSVIRT_ACTION" "$TSVIRT_POST_COUNT"`], {
      encoding: 'utf8',
    });
    expect(out.split('\n').slice(0, 5)).toEqual(["console=ttyS0 quiet it's $(reboot)", 'guest1', 'Europe/Berlin', 'poweroff', '1']);
    const fs = execFileSync('cat', [join(root, 'tsvirt/filesystems')], { encoding: 'utf8' });
    expect(fs).toBe('/dev/vda3 ext4 / root\n/dev/vda1 ext4 /boot\n/dev/vda2 swap swap\n');
    const accounts = execFileSync('cat', [join(root, 'tsvirt/accounts')], { encoding: 'utf8' }).trim().split('\n');
    expect(accounts[0]).toMatch(/^root:0:0:root:\/root:\/bin\/sh:\$6\$[./0-9A-Za-z]+\$[./0-9A-Za-z]+:$/);
    expect(accounts[1]).toMatch(/^alice:1000:1000:Alice  the 'admin':\/home\/alice:\/bin\/sh:\$6\$.*:wheel$/);
    const env = execFileSync('sh', ['-c', `. '${root}/tsvirt/scripts/post-1.env'; echo "$INTERP|$NOCHROOT|$LOGFILE|$ERRORONFAIL"`], { encoding: 'utf8' });
    expect(env.trim()).toBe('/bin/sh|0|/root/post.log|1');
    expect(execFileSync('cat', [join(root, 'tsvirt/scripts/post-1')], { encoding: 'utf8' })).toMatch(/echo marker > \/root\/marker/);
    expect(execFileSync('cat', [join(root, 'tsvirt/interfaces')], { encoding: 'utf8' })).toMatch(/iface eth0 inet dhcp/);
  });

  it('refuses, before boot, what the installer cannot install', async () => {
    await expect(render(KS.replace('part / --grow --fstype ext4 --label root', 'part / --grow --fstype xfs'))).rejects.toThrow(/file system xfs on \/ .*cannot install/);
    await expect(render(KS.replace(/liveimg .*\n/, 'url --url=http://127.0.0.1/repo\n'))).rejects.toThrow(/package install from a repository/);
    await expect(render(KS, 'rootfs.zip')).rejects.toThrow(/liveimg rootfs.zip/);
    await expect(render(KS.replace('--label root', "--label 'a;b'"))).rejects.toThrow(/label "a;b"/);
  });
});
