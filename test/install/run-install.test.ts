// The kickstart-driven install end to end (issue 8), through the library the CLI calls:
// a tree built from Debian packages and a busybox rootfs served with a kickstart by a
// node HTTP server on 127.0.0.1, installed into a qcow2, then the installed system
// booted from its own disk and logged into over the serial console.
// The guest runs on the reference VM (QEMU TCG) here; the same flow on tsvirt's VM core
// is test/e2e once the software CPU boots the kernel.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeError } from '../../src/lib/errors.js';
import { createFetcher, silentProgress } from '../../src/install/fetch/index.js';
import { runInstall, type InstallJob } from '../../src/install/run-install.js';
import { buildTree } from '../../src/install/tree-build/build-tree.js';
import { busyboxAmd64, fixture } from '../support/fixtures.js';
import { serveDirectory, type StaticServer } from '../../src/demo/static-server.js';
import { writeBusyboxRootfs } from '../../src/demo/busybox-rootfs.js';
import { runOnQemu } from './support/qemu-runner.js';

const GiB = 1024 ** 3;
let work: string;
let www: string;
let server: StaticServer;
let rootfsSha: string;

function kickstart(overrides: { liveimg?: string; post?: string; parts?: string } = {}): string {
  return `text
zerombr
clearpart --all --initlabel
${overrides.parts ?? 'part /boot --size 64 --fstype ext4\npart swap --size 32\npart / --grow --fstype ext4'}
rootpw --plaintext tsvirt-root
user --name=alice --password=alice-pw --plaintext
timezone UTC --utc
network --bootproto=dhcp --hostname=e2e
${overrides.liveimg ?? `liveimg --url=${server.url}/rootfs.tar.gz --checksum=sha256:${rootfsSha}`}
bootloader --append="console=ttyS0"
%post --erroronfail
${overrides.post ?? 'echo tsvirt-post-marker > /root/marker'}
%end
poweroff
`;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tsvirt-e2e-'));
  www = join(work, 'www');
  mkdirSync(www);
  buildTree({ kernel: fixture('KERNEL_AMD64'), modules: fixture('MODULES_AMD64'), busybox: busyboxAmd64(), out: join(www, 'tree') });
  await writeBusyboxRootfs(busyboxAmd64(), join(www, 'rootfs.tar.gz'));
  rootfsSha = createHash('sha256').update(readFileSync(join(www, 'rootfs.tar.gz'))).digest('hex');
  server = await serveDirectory(www);
});
afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

function job(name: string, ksName: string, over: Partial<InstallJob> = {}): InstallJob {
  return {
    name,
    memoryMiB: 512,
    vcpus: 1,
    disks: [{ path: join(work, `${name}.qcow2`), format: 'qcow2', create: true, sizeBytes: GiB, readOnly: false, target: 'vda', bus: 'virtio', device: 'disk' }],
    nics: [],
    rng: false,
    location: { location: `${server.url}/tree` },
    extraArgs: `inst.ks=${server.url}/${ksName}`,
    initrdInject: [],
    noreboot: false,
    force: false,
    ...over,
  };
}

/** Plays the user at the serial console: logs in, runs commands, powers off. */
function consoleUser(steps: Array<[RegExp, string]>) {
  const stdin = new PassThrough();
  let out = '';
  let step = 0;
  const stdout = new Writable({
    write(chunk: Buffer, _e, cb) {
      out += chunk.toString('latin1');
      if (step < steps.length && steps[step][0].test(out.slice(-200))) {
        stdin.write(steps[step][1]);
        step++;
        out += '\n'; // so the same prompt is not matched twice
      }
      cb();
    },
  });
  return { stdin, stdout, output: () => out };
}

const fetcher = () => createFetcher({ cacheDir: join(work, 'cache'), progress: silentProgress });

describe('kickstart install, then boot from disk (reference VM)', () => {
  it('installs into a qcow2, boots the installed system, and the root user logs in', async () => {
    writeFileSync(join(www, 'ks.cfg'), kickstart());
    const user = consoleUser([
      [/login: $/, 'root\n'],
      [/Password: $/, 'tsvirt-root\n'],
      [/# (\x1b\[6n)?$/, 'cat /root/marker; id -u; poweroff\n'],
    ]);
    const progress: string[] = [];
    const outcome = await runInstall(job('e2e', 'ks.cfg'), { fetcher: fetcher(), runGuest: runOnQemu, console: { stdin: user.stdin, stdout: user.stdout }, progress: (l) => progress.push(l) });
    const out = user.output();
    expect(out).toMatch(/TSVIRT-INSTALL-STATUS: ok/);
    expect(out).toMatch(/tsvirt-post-marker\r?\n0\r?\n/);
    // The flow stops the installer's guest as soon as the status line arrives.
    expect(['stopped', 'poweroff']).toContain(outcome.installResult.kind);
    expect(outcome.bootResult?.kind).toBe('poweroff');
    expect(progress.join('\n')).toMatch(/booting the installed system \(partition 1: \/extlinux\/extlinux.conf \(linux\)\)/);
    for (const p of outcome.phases) console.log(`phase ${p.phase}: ${p.seconds.toFixed(1)} s`);
    const disk = join(work, 'e2e.qcow2');
    expect(execFileSync('qemu-img', ['check', disk], { encoding: 'utf8' })).toMatch(/No errors were found on the image/);
    // e2fsck -fn on the root partition, from a raw copy.
    const raw = join(work, 'e2e.raw');
    execFileSync('qemu-img', ['convert', '-O', 'raw', disk, raw]);
    const root = outcome.plan.disks[0].partitions.find((p) => p.mountpoint === '/')!;
    const rootImg = join(work, 'root.img');
    execFileSync('dd', [`if=${raw}`, `of=${rootImg}`, 'bs=1M', `skip=${root.startBytes / 2 ** 20}`, `count=${root.sizeBytes / 2 ** 20}`, 'status=none']);
    execFileSync('e2fsck', ['-fn', rootImg]);
    expect(execFileSync('debugfs', ['-R', 'cat /root/marker', rootImg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toBe('tsvirt-post-marker\n');
    expect(execFileSync('debugfs', ['-R', 'cat /etc/hostname', rootImg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toBe('e2e\n');
  });

  describe('fails cleanly, leaving nothing behind', () => {
    async function failure(name: string, ks: string, over: Partial<InstallJob> = {}, abortOn?: RegExp, output: string[] = []): Promise<string> {
      writeFileSync(join(www, `${name}.cfg`), ks);
      const controller = new AbortController();
      let seen = '';
      const stdout = new Writable({
        write(chunk: Buffer, _e, cb) {
          output.push(chunk.toString('latin1'));
          seen = (seen + chunk.toString('latin1')).slice(-1000);
          if (abortOn?.test(seen)) controller.abort();
          cb();
        },
      });
      const tmp = join(work, `tmp-${name}`);
      mkdirSync(tmp);
      try {
        await runInstall(job(name, `${name}.cfg`, over), { fetcher: fetcher(), runGuest: runOnQemu, console: { stdout }, signal: controller.signal, tmpDir: tmp });
        return 'no error';
      } catch (err) {
        return describeError(err);
      } finally {
        expect(existsSync(join(work, `${name}.qcow2`)), 'the disk is removed').toBe(false);
        expect(readdirSync(tmp), 'temporary files are removed').toEqual([]);
      }
    }

    it('an invalid kickstart, before boot', async () => {
      expect(await failure('badks', kickstart().replace('rootpw --plaintext', 'rootpw --bogus-option'))).toMatch(/badks\.cfg:\d+: .*bogus-option/);
    });
    it('a payload checksum mismatch, before boot', async () => {
      const ks = kickstart({ liveimg: `liveimg --url=${server.url}/rootfs.tar.gz --checksum=sha256:${'0'.repeat(64)}` });
      expect(await failure('badsum', ks)).toMatch(/checksum|sha256/i);
    });
    it('a plan that does not fit the disk, before boot', async () => {
      const ks = kickstart({ parts: 'part /boot --size 2000 --fstype ext4\npart / --size 500 --fstype ext4' });
      expect(await failure('toobig', ks)).toMatch(/the partitions for vda need \d+ MiB/);
    });
    it('a failed %post --erroronfail, with its output shown', async () => {
      expect(await failure('badpost', kickstart({ post: 'echo about-to-fail; exit 3' }))).toMatch(/the install failed: %post script 1 failed with exit code 3 \(--erroronfail\)/);
    });
    it('a failed %post that finds the --initrd-inject file in the installer', async () => {
      // The injected file is in the installer's root; a %post --nochroot proves it by
      // failing with its content.
      const extra = join(work, 'extra.txt');
      writeFileSync(extra, 'injected-by-test\n');
      const ks = kickstart({ post: 'cat /extra.txt; exit 4' }).replace('%post --erroronfail', '%post --erroronfail --nochroot');
      const seen: string[] = [];
      expect(await failure('inject', ks, { initrdInject: [extra] }, undefined, seen)).toMatch(/%post script 1 failed with exit code 4/);
      expect(seen.join('')).toMatch(/\| injected-by-test/);
    });
    it('an interrupt during the install', async () => {
      expect(await failure('ctrlc', kickstart(), {}, /tsvirt-installer: plan loaded/)).toMatch(/interrupted/);
    });
  });
});
