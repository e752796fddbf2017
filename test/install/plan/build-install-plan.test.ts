// The install plan from real kickstarts and disk sizes: placement, growth, alignment,
// table types, passwords, and the layouts that must be refused before any disk exists.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createFetcher } from '../../../src/install/fetch/index.js';
import { validateKickstartSource, validateKickstartText } from '../../../src/install/kickstart/index.js';
import { buildInstallPlan, MIB, sha512Crypt, type InstallPlan, type PlanOptions } from '../../../src/install/plan/index.js';
import { TsvirtError } from '../../../src/lib/errors.js';

const corpus = fileURLToPath(new URL('../../fixtures/kickstart', import.meta.url));
const GIB = 1024 * MIB;
const TIB = 1024 * GIB;
const fixedRandom = (n: number) => new Uint8Array(n).fill(7);

async function plan(text: string, disks = [{ target: 'vda', sizeBytes: 10 * GIB }], opts: PlanOptions = {}): Promise<InstallPlan> {
  const v = await validateKickstartText(text, 'test.ks');
  expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
  return buildInstallPlan(v.kickstart, disks, { random: fixedRandom, ...opts });
}

async function refused(text: string, disks = [{ target: 'vda', sizeBytes: 10 * GIB }], opts: PlanOptions = {}): Promise<string> {
  const err = await plan(text, disks, opts).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(TsvirtError);
  return (err as Error).message;
}

function checkGeometry(p: InstallPlan): void {
  for (const d of p.disks) {
    let end = 0;
    for (const part of d.partitions) {
      expect(part.startBytes % MIB).toBe(0);
      expect(part.sizeBytes % MIB).toBe(0);
      expect(part.startBytes).toBeGreaterThanOrEqual(Math.max(end, MIB));
      end = part.startBytes + part.sizeBytes;
    }
    const limit = d.partitionTable === 'gpt' ? d.sizeBytes - 33 * 512 : Math.min(d.sizeBytes, 2 ** 32 * 512);
    expect(end).toBeLessThanOrEqual(limit);
  }
}

describe('buildInstallPlan', () => {
  it('plans the full example kickstart on a 20 GiB disk', async () => {
    const v = await validateKickstartSource(join(corpus, '02-full-valid.ks'), createFetcher());
    const p = buildInstallPlan(v.kickstart, [{ target: 'vda', sizeBytes: 20 * GIB }], { random: fixedRandom });
    checkGeometry(p);
    const [disk] = p.disks;
    expect(disk.partitionTable).toBe('msdos');
    expect(disk.partitions.map((x) => [x.number, x.mountpoint, x.fstype, x.startBytes / MIB, x.sizeBytes / MIB, x.bootable])).toEqual([
      [1, '/boot', 'ext4', 1, 512, true],
      [2, 'swap', 'swap', 513, 256, false],
      [3, '/', 'ext4', 769, 8192, false],
    ]);
    expect(disk.partitions[0].label).toBe('boot');
    expect(p.root).toEqual({ passwordHash: '$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/', locked: false, allowSsh: false });
    const alice = p.users[0];
    expect(alice.passwordHash).toMatch(/^\$6\$/);
    expect(sha512Crypt('wonderland', alice.passwordHash!)).toBe(alice.passwordHash);
    expect(JSON.stringify(p)).not.toContain('wonderland');
    expect(alice.groups).toEqual(['wheel', 'users']);
    expect(alice.gecos).toBe('Alice Liddell');
    expect(p.hostname).toBe('web01.example.com');
    expect(p.network[0]).toMatchObject({ device: 'eth0', bootproto: 'static', ip: '192.168.122.10', nameservers: ['192.168.122.1', '1.1.1.1'], onboot: true });
    expect(p.timezone).toEqual({ name: 'America/New_York', utc: true, ntp: true, ntpServers: [] });
    expect(p.bootloader).toMatchObject({ append: 'console=ttyS0,115200n8 quiet', timeoutSeconds: 3, bootDrive: 'vda', disabled: false });
    expect(p.source).toEqual({
      kind: 'liveimg', url: 'http://192.168.122.1/images/rootfs.tar.gz', noverifyssl: false,
      checksum: { algorithm: 'sha256', hex: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' },
    });
    expect(p.scripts.map((s) => [s.kind, s.interpreter, s.nochroot, s.erroronfail, s.log])).toEqual([
      ['pre', '/bin/bash', false, false, '/tmp/pre.log'],
      ['post', '/bin/sh', true, false, '/mnt/sysimage/root/post-nochroot.log'],
      ['post', '/usr/bin/python3', false, true, undefined],
      ['onerror', '/bin/sh', false, false, undefined],
    ]);
    expect(p.scripts[2].body).toBe('print("configured")\n');
    expect(p.scripts[0].origin).toBe(`${join(corpus, '02-full-valid.ks')}:26`);
    expect(p.finalAction).toEqual({ action: 'poweroff', eject: false });
    expect(p.selinux).toBe('enforcing');
    expect(p.services).toEqual({ enabled: ['sshd', 'chronyd'], disabled: ['cups'] });
    expect(JSON.parse(JSON.stringify(p))).toEqual(JSON.parse(JSON.stringify(p)));
  });

  it('shares free space among --grow partitions in proportion, honouring --maxsize', async () => {
    const p = await plan('part /boot --size=1000\npart / --size=1000 --grow\npart /var --size=3000 --grow\npart /home --size=2000 --grow --maxsize=2100\n');
    checkGeometry(p);
    const sizes = p.disks[0].partitions.map((x) => x.sizeBytes / MIB);
    expect(sizes[0]).toBe(1000);
    // /home's share (about 1079 MiB) is capped at its --maxsize; the rest goes to / and /var.
    expect(sizes[3]).toBe(2100);
    // Everything usable is used: 10 GiB minus the first MiB.
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10 * 1024 - 1);
    // / and /var grew in the ratio of their sizes (1:3), within a few MiB of rounding.
    expect(Math.abs((sizes[2] - 3000) - 3 * (sizes[1] - 1000))).toBeLessThanOrEqual(4);
  });

  it('refuses partitions that do not fit, naming the disk and sizes', async () => {
    const msg = await refused('part / --size=20000\n');
    expect(msg).toBe(`the partitions for vda need 20000 MiB but vda has only ${10 * 1024 - 1} MiB usable (disk of ${10 * GIB} bytes)`);
  });

  it('uses GPT above 2 TiB or when asked, and refuses MBR above 2 TiB', async () => {
    const big = [{ target: 'vda', sizeBytes: 3 * TIB }];
    const p = await plan('part / --size=1000 --grow\n', big);
    checkGeometry(p);
    expect(p.disks[0].partitionTable).toBe('gpt');
    expect(p.disks[0].partitions[0].sizeBytes).toBe(Math.floor((3 * TIB - 33 * 512) / MIB) * MIB - MIB);
    expect((await plan('clearpart --all --disklabel=gpt\npart / --size=100\n')).disks[0].partitionTable).toBe('gpt');
    expect((await plan('part / --size=100\n', undefined, { firmware: 'efi' })).disks[0].partitionTable).toBe('gpt');
    expect(await refused('clearpart --all --disklabel=msdos\npart / --size=100\n', big)).toMatch(/MBR partition table cannot address all of vda/);
  });

  it('places --ondisk partitions and honours ignoredisk', async () => {
    const disks = [{ target: 'vda', sizeBytes: 4 * GIB }, { target: 'vdb', sizeBytes: 8 * GIB }];
    const p = await plan('part / --size=1000 --grow --ondisk=vda\npart /srv --size=100 --grow --ondisk=/dev/vdb\n', disks);
    expect(p.disks.map((d) => [d.target, d.partitions.map((x) => x.mountpoint)])).toEqual([['vda', ['/']], ['vdb', ['/srv']]]);
    expect(p.disks[1].partitions[0].sizeBytes).toBe(8 * GIB - MIB);
    expect(await refused('part / --size=100 --ondisk=vdc\n', disks)).toMatch(/--ondisk=vdc names no usable disk \(usable: vda, vdb\)/);
    const only = await plan('ignoredisk --only-use=vdb\npart / --size=100 --grow\n', disks);
    expect(only.disks.map((d) => d.target)).toEqual(['vdb']);
    expect(await refused('ignoredisk --drives=vda,vdb\npart / --size=100\n', disks)).toMatch(/leaves no disk/);
  });

  it('turns autopart into a plain layout and refuses what the installer cannot do', async () => {
    const p = await plan('autopart --nohome\n', undefined, { memoryMiB: 2048 });
    checkGeometry(p);
    expect(p.disks[0].partitions.map((x) => [x.mountpoint, x.sizeBytes / MIB])).toEqual([['/boot', 1024], ['swap', 2048], ['/', 10 * 1024 - 1 - 1024 - 2048]]);
    expect(p.notes[0]).toMatch(/autopart without --type/);
    expect(await refused('autopart --type=lvm\n')).toMatch(/autopart --type=lvm is not supported yet/);
    expect(await refused('part pv.01 --size=100 --grow\nvolgroup vg pv.01\nlogvol / --vgname=vg --name=root --size=100\n')).toMatch(/logvol is not supported yet/);
    expect(await refused('part / --size=100 --fstype=btrfs\n')).toMatch(/--fstype=btrfs is not supported yet/);
    expect(await refused('part / --size=100 --fstype=xfs\n')).toMatch(/tsvirt boots installed disks from ext2, ext3 or ext4/);
    expect((await plan('part /boot --size=100\npart / --size=100 --fstype=xfs\n')).disks[0].partitions[0].bootable).toBe(true);
    expect(await refused('lang en_US\n')).toMatch(/does not say how to partition/);
    expect(await refused('part /home --size=100\n')).toMatch(/creates no \/ filesystem/);
    expect(await refused('part / --size=100\npart / --size=200\n')).toMatch(/mount point \/ is already given on test.ks:1/);
    expect(await refused('part / --size=100\ncdrom\n')).toMatch(/cdrom installation source is not supported yet/);
  });

  it('keeps MBR to four primary partitions; GPT takes more', async () => {
    const five = 'part /a --size=10\npart /b --size=10\npart /c --size=10\npart /d --size=10\npart / --size=10\n';
    expect(await refused(five)).toMatch(/5 partitions on vda do not fit an MBR partition table/);
    const p = await plan(`clearpart --all --disklabel=gpt\n${five}`);
    expect(p.disks[0].partitions.length).toBe(5);
  });

  it('sizes swap --recommended from the guest memory and hashes plaintext root passwords', async () => {
    const p = await plan('part swap --recommended\npart / --size=100\nrootpw hunter2\n', undefined, { memoryMiB: 4096 });
    expect(p.disks[0].partitions[0].sizeBytes).toBe(4096 * MIB);
    expect(p.root.passwordHash).toBe(sha512Crypt('hunter2', p.root.passwordHash!));
    // Salt bytes of 7 map to crypt alphabet index 7, '5'.
    expect(p.root.passwordHash!.split('$')[2]).toBe('5'.repeat(16));
    expect(p.finalAction).toEqual({ action: 'halt', eject: false });
    const locked = await plan('part / --size=100\n');
    expect(locked.root).toEqual({ passwordHash: null, locked: true, allowSsh: false });
    expect(await refused('part / --size=100\nrootpw --iscrypted notahash\n')).toMatch(/not a crypt\(3\) hash/);
    const withBootPassword = await plan('part / --size=100\nbootloader --password=grubpw\n');
    expect(JSON.stringify(withBootPassword)).not.toContain('grubpw');
    expect(withBootPassword.notes).toContain('test.ks:2: bootloader --password is ignored: tsvirt boots the installed disk directly');
  });
});
