// The kickstart install end to end on tsvirt's own VM core (issue 8): the same tree,
// kickstart and checks as the reference run in run-install.test.ts, with the guest run
// by runOnVmCore, the production runner (the software CPU here; virtio-blk on the qcow2,
// the read-only payload disk, the PC platform). Both phases boot Debian's generic kernel:
// the installer (which gets cryptomgr.notests from the tsvirt tree family) and then the
// installed system from its own disk; this kickstart gives the installed system the same
// argument through `bootloader --append`, as a user who wants a quick boot would.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { runOnVmCore } from '../../src/install/guest-machine.js';
import { runInstall } from '../../src/install/run-install.js';
import { expectInstalledAndBooted, installFetcher, installJob, kickstart, rootLogin, serveInstallTree, type ServedTree } from './support/install-e2e.js';

let tree: ServedTree;
beforeAll(async () => {
  tree = await serveInstallTree();
});
afterAll(async () => {
  await tree?.close();
});

describe('kickstart install, then boot from disk, on the VM core', () => {
  it('installs into a qcow2 on the software CPU, boots it from its disk, and root logs in', async () => {
    writeFileSync(join(tree.www, 'ks.cfg'), kickstart(tree, { append: 'console=ttyS0 cryptomgr.notests' }));
    const user = rootLogin();
    const progress: string[] = [];
    const outcome = await runInstall(installJob(tree, 'vmcore', 'ks.cfg', { accelerator: 'ts' }), {
      fetcher: installFetcher(tree),
      runGuest: runOnVmCore,
      console: { stdin: user.stdin, stdout: user.stdout },
      progress: (l) => progress.push(l),
    });
    for (const p of outcome.phases) console.log(`phase ${p.phase}: ${p.seconds.toFixed(1)} s`);
    expectInstalledAndBooted(tree, 'vmcore', outcome, user.output(), progress);
  }, 45 * 60_000); // two kernel boots on the software CPU; minutes on a quiet machine, more under load
});
