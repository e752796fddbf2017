// The kickstart-driven install end to end (issue 8), through the library the CLI calls:
// a tree built from Debian packages and a busybox rootfs served with a kickstart by a
// node HTTP server on 127.0.0.1, installed into a qcow2, then the installed system
// booted from its own disk and logged into over the serial console.
// The guest runs on the reference VM (QEMU TCG) here, with the failure paths; the same
// flow on tsvirt's own VM core is run-install-vmcore.test.ts.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeError } from '../../src/lib/errors.js';
import { runInstall, type InstallJob } from '../../src/install/run-install.js';
import {
  expectInstalledAndBooted, installFetcher, installJob, kickstart as ksFor, rootLogin, serveInstallTree,
  type KickstartOverrides, type ServedTree,
} from './support/install-e2e.js';
import { runOnQemu } from './support/qemu-runner.js';

let tree: ServedTree;
beforeAll(async () => {
  tree = await serveInstallTree();
});
afterAll(async () => {
  await tree?.close();
});

const kickstart = (o: KickstartOverrides = {}) => ksFor(tree, o);
const job = (name: string, ksName: string, over: Partial<InstallJob> = {}) => installJob(tree, name, ksName, over);

describe('kickstart install, then boot from disk (reference VM)', () => {
  it('installs into a qcow2, boots the installed system, and the root user logs in', async () => {
    writeFileSync(join(tree.www, 'ks.cfg'), kickstart());
    const user = rootLogin();
    const progress: string[] = [];
    const outcome = await runInstall(job('e2e', 'ks.cfg'), { fetcher: installFetcher(tree), runGuest: runOnQemu, console: { stdin: user.stdin, stdout: user.stdout }, progress: (l) => progress.push(l) });
    for (const p of outcome.phases) console.log(`phase ${p.phase}: ${p.seconds.toFixed(1)} s`);
    expectInstalledAndBooted(tree, 'e2e', outcome, user.output(), progress);
  });

  describe('fails cleanly, leaving nothing behind', () => {
    async function failure(name: string, ks: string, over: Partial<InstallJob> = {}, abortOn?: RegExp, output: string[] = []): Promise<string> {
      writeFileSync(join(tree.www, `${name}.cfg`), ks);
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
      const tmp = join(tree.work, `tmp-${name}`);
      mkdirSync(tmp);
      try {
        await runInstall(job(name, `${name}.cfg`, over), { fetcher: installFetcher(tree), runGuest: runOnQemu, console: { stdout }, signal: controller.signal, tmpDir: tmp });
        return 'no error';
      } catch (err) {
        return describeError(err);
      } finally {
        expect(existsSync(join(tree.work, `${name}.qcow2`)), 'the disk is removed').toBe(false);
        expect(readdirSync(tmp), 'temporary files are removed').toEqual([]);
      }
    }

    it('an invalid kickstart, before boot', async () => {
      expect(await failure('badks', kickstart().replace('rootpw --plaintext', 'rootpw --bogus-option'))).toMatch(/badks\.cfg:\d+: .*bogus-option/);
    });
    it('a payload checksum mismatch, before boot', async () => {
      const ks = kickstart({ liveimg: `liveimg --url=${tree.server.url}/rootfs.tar.gz --checksum=sha256:${'0'.repeat(64)}` });
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
      const extra = join(tree.work, 'extra.txt');
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
