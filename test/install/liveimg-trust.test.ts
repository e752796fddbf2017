// A kickstart fetched from a server may name a liveimg only on that server or on the tree's
// (--location): `liveimg --url=file:///etc/...` in a remote kickstart would otherwise copy
// a host file onto the guest's payload disk (issue 15). Refused in prepareInstall, before
// any disk exists; the user's own local kickstart keeps naming local files.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareInstall } from '../../src/install/run-install.js';
import { installFetcher, installJob, kickstart, serveInstallTree, type ServedTree } from './support/install-e2e.js';

let t: ServedTree;
beforeAll(async () => {
  t = await serveInstallTree();
});
afterAll(async () => t?.close());

describe('the liveimg a kickstart names', () => {
  it('from a remote kickstart: a file: URL or another server is refused before any disk exists', async () => {
    for (const [name, liveimg, want] of [
      ['host-file.ks', 'liveimg --url=file:///etc/secret.tar.gz', /names "file:\/\/\/etc\/secret\.tar\.gz", a file: URL/],
      ['other-host.ks', 'liveimg --url=http://127.0.0.2:9/rootfs.tar.gz', /which is on http:\/\/127\.0\.0\.2:9, not on http:\/\/127\.0\.0\.1:\d+/],
    ] as const) {
      writeFileSync(join(t.www, name), kickstart(t, { liveimg }));
      const job = installJob(t, 'trust', name);
      await expect(prepareInstall(job, installFetcher(t))).rejects.toThrow(want);
    }
  });

  it("from the user's own kickstart file, a local liveimg is taken as written", async () => {
    const local = join(t.work, 'local.ks');
    writeFileSync(local, kickstart(t, { liveimg: `liveimg --url=file://${join(t.www, 'rootfs.tar.gz')} --checksum=sha256:${t.rootfsSha}` }));
    const job = { ...installJob(t, 'trust-local', 'unused.ks'), extraArgs: 'inst.ks=file:/local.ks', initrdInject: [local] };
    const prepared = await prepareInstall(job, installFetcher(t));
    expect(prepared.liveimgPath).toBe(join(t.www, 'rootfs.tar.gz'));
  });
});
