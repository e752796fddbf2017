// The media step in one call: kickstart validated and planned first, then the tree, then
// the initrd with the injected kickstart and plan (listed with Debian cpio).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFetcher, INSTALL_PLAN_INITRD_PATH, KickstartInvalidError, prepareInstallMedia, type Fetcher } from '../../src/install/index.js';
import { serveDirectory, type StaticServer } from './helpers/static-server.js';
import { INITRD, writeFedoraTree } from './helpers/trees.js';

let work: string;
let fetcher: Fetcher;
let server: StaticServer;
const disks = [{ target: 'vda', sizeBytes: 8 * 1024 ** 3 }];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tsvirt-media-'));
  writeFedoraTree(join(work, 'tree'));
  writeFileSync(join(work, 'ks.cfg'), 'lang en_US\nrootpw --plaintext pw\nautopart --type=plain\nliveimg --url=http://10.0.2.2/root.tar\npoweroff\n');
  writeFileSync(join(work, 'bad.cfg'), 'lang en_US\nparty / --size=1\n');
  writeFileSync(join(work, 'huge.cfg'), 'part / --size=999999\n');
  server = await serveDirectory(work);
  fetcher = createFetcher({ cacheDir: join(work, 'cache'), retries: 0 });
});
afterAll(async () => {
  await server.close();
  rmSync(work, { recursive: true, force: true });
});

describe('prepareInstallMedia', () => {
  it('injects the kickstart and the plan into the fetched initrd', async () => {
    const out = mkdtempSync(join(work, 'out-'));
    const media = await prepareInstallMedia(
      { location: `${server.url}/tree`, extraArgs: 'console=ttyS0 inst.ks=file:/ks.cfg', injectPaths: [join(work, 'ks.cfg')], disks, outputDir: out },
      fetcher,
    );
    expect(media.kernelArgs).toEqual(['console=ttyS0 inst.ks=file:/ks.cfg', `inst.repo=${server.url}/tree`]);
    expect(media.plan?.finalAction.action).toBe('poweroff');
    expect(media.injected).toEqual(['ks.cfg', INSTALL_PLAN_INITRD_PATH]);
    const bytes = readFileSync(media.initrd);
    expect(bytes.subarray(0, INITRD.length).toString()).toBe(INITRD);
    const start = INITRD.length + ((4 - (INITRD.length % 4)) % 4);
    const listing = execFileSync('cpio', ['-t', '--quiet'], { input: gunzipSync(bytes.subarray(start)) }).toString().trim().split('\n');
    expect(listing).toEqual(['ks.cfg', 'tsvirt', INSTALL_PLAN_INITRD_PATH]);
  });

  it('writes nothing on a dry run', async () => {
    const out = mkdtempSync(join(work, 'dry-'));
    const media = await prepareInstallMedia({ location: join(work, 'tree'), injectPaths: [join(work, 'ks.cfg')], disks, outputDir: out, dryRun: true }, fetcher);
    expect(media.plan).toBeDefined();
    expect(media.initrd).toBe(media.tree.initrd);
    expect(readdirSync(out)).toEqual([]);
  });

  it('stops on an invalid or unfit kickstart before the location is even read', async () => {
    const missing = join(work, 'no-such-tree');
    const bad = await prepareInstallMedia({ location: missing, extraArgs: `inst.ks=${server.url}/bad.cfg`, disks }, fetcher).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(KickstartInvalidError);
    expect((bad as Error).message).toContain(`${server.url}/bad.cfg:2: Unknown command: party`);
    await expect(prepareInstallMedia({ location: missing, extraArgs: `ks=${server.url}/huge.cfg`, disks }, fetcher)).rejects.toThrow(/need 999999 MiB/);
    expect(existsSync(missing)).toBe(false);
  });
});
