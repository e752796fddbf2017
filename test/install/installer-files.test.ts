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

/** What a tree built with mke2fs can make (tsvirt tree build with --tools-root /). */
const FULL_TREE = ['ext2', 'swap', 'vfat', 'ext3', 'ext4'];

async function render(ks: string, liveimgName = 'rootfs.tar.gz', installerFilesystems: readonly string[] = FULL_TREE) {
  const { kickstart, problems } = await parseKickstart(ks, 'ks.cfg');
  expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  const plan = buildInstallPlan(kickstart, [{ target: 'vda', sizeBytes: GiB }], { memoryMiB: 512 });
  return renderInstallerFiles({ plan, kickstartText: ks, kernelRelease: '6.1.0-1-amd64', liveimgName, installerFilesystems });
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
    await expect(render(KS.replace('part / --grow --fstype ext4 --label root', 'part / --grow --fstype xfs'))).rejects.toThrow(
      /^the kickstart asks for xfs on \/ \(ks\.cfg:6\), but this tree's installer can make only ext2, swap, vfat, ext3, ext4$/,
    );
    await expect(render(KS.replace(/liveimg .*\n/, 'url --url=http://127.0.0.1/repo\n'))).rejects.toThrow(/package install from a repository/);
    await expect(render(KS, 'rootfs.zip')).rejects.toThrow(/liveimg rootfs.zip/);
    await expect(render(KS.replace('--label root', "--label 'a;b'"))).rejects.toThrow(/label "a;b"/);
  });

  it('asks for ext4 and gets ext4, or an error before any disk is touched (never ext2 instead)', async () => {
    // A tree without mke2fs (busybox only) cannot make ext4: the install stops here.
    const noMke2fs = ['ext2', 'swap', 'vfat'];
    await expect(render(KS, 'rootfs.tar.gz', noMke2fs)).rejects.toThrow(/asks for ext4 on \/boot \(ks\.cfg:4\), but this tree's installer can make only ext2, swap, vfat$/);
    const err = await render(KS, 'rootfs.tar.gz', noMke2fs).catch((e: { hint?: string }) => e);
    expect(err.hint).toMatch(/tsvirt tree build --tools-root/);
    // The same tree can install an ext2 system, and vfat (an EFI system partition is vfat).
    const ext2 = KS.replaceAll('--fstype ext4', '--fstype ext2').replace('part swap --size 32', 'part /boot/efi --size 40 --fstype efi');
    const root = extract(await render(ext2, 'rootfs.tar.gz', noMke2fs));
    expect(execFileSync('cat', [join(root, 'tsvirt/filesystems')], { encoding: 'utf8' })).toBe('/dev/vda3 ext2 / root\n/dev/vda1 ext2 /boot\n/dev/vda2 vfat /boot/efi\n');
  });

  it('refuses what it would otherwise leave undone: services, firewall rules, SELinux, %packages, mkfs and mount options', async () => {
    const cases: Array<[string, RegExp]> = [
      ['services --enabled=sshd\n', /services --enabled\/--disabled, which tsvirt's installer does not support yet/],
      ['firewall --enabled --service=ssh\n', /firewall rules .* does not support yet/],
      ['selinux --enforcing\n', /selinux --enforcing, which tsvirt's installer does not support yet/],
      ['%packages\n@core\nvim\n%end\n', /%packages \(@core vim\.\.\.\), but a liveimg install .* installs no packages/],
      ['timezone UTC --ntpservers=pool.ntp.org\n', /timezone --ntpservers/],
      ['network --device=eth1 --bootproto=dhcp\n', /2 network interfaces/],
    ];
    for (const [extra, want] of cases) await expect(render(`${KS}${extra}`), extra).rejects.toThrow(want);
    await expect(render(KS.replace('--label root', '--label root --mkfsoptions="-O ^has_journal"'))).rejects.toThrow(/part --mkfsoptions \(ks\.cfg:6\), which tsvirt's installer does not support yet/);
    await expect(render(KS.replace('--label root', '--label root --fsoptions=noatime'))).rejects.toThrow(/part --fsoptions/);
    // What it can do stays accepted: disabled firewall and SELinux, a hostname-only network line.
    await expect(render(`${KS}firewall --disabled\nselinux --disabled\nnetwork --hostname=other\n`)).resolves.toBeDefined();
  });

  it('carries lang, keyboard, groups, ssh keys and name servers to the installer', async () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBXqGZ6lmB1f1s3UQq3dJd2hL0nH6vW8wq7yYk5pZ2aX alice@host';
    const ks = KS.replace('network --bootproto=dhcp --device=eth0 --hostname=guest1', 'network --bootproto=static --device=eth0 --ip=10.0.2.15 --netmask=255.255.255.0 --gateway=10.0.2.2 --nameserver=10.0.2.3 --hostname=guest1')
      + `lang de_DE.UTF-8\nkeyboard --vckeymap=de\ngroup --name=admins --gid=1500\nsshkey --username=alice "${key}"\n`;
    const root = extract(await render(ks));
    const vars = execFileSync('sh', ['-c', `. '${root}/tsvirt/plan.sh'; printf '%s|%s' "$TSVIRT_LANG" "$TSVIRT_KEYMAP"`], { encoding: 'utf8' });
    expect(vars).toBe('de_DE.UTF-8|de');
    expect(execFileSync('cat', [join(root, 'tsvirt/groups')], { encoding: 'utf8' })).toBe('admins:1500\n');
    expect(execFileSync('cat', [join(root, 'tsvirt/sshkeys')], { encoding: 'utf8' })).toBe(`alice ${key}\n`);
    expect(execFileSync('cat', [join(root, 'tsvirt/resolv.conf')], { encoding: 'utf8' })).toMatch(/^nameserver 10\.0\.2\.3$/m);
    await expect(render(`${KS}sshkey --username=bob "${key}"\n`)).rejects.toThrow(/sshkey for "bob", a user the kickstart does not create/);
    await expect(render(`${KS}sshkey --username=alice "not a key; rm -rf /"\n`)).rejects.toThrow(/not an OpenSSH public key line/);
  });
});
