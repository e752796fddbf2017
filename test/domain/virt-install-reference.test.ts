// Replays every command line of test/fixtures/virt-install/commands.txt through the
// front-end and compares, document by document, the facts a user chose with what Debian's
// virt-install printed for the same line (refs/, made by make-refs.sh). Also parses
// virt-install's own output, and checks that tsvirt's XML round-trips and passes
// virt-xml-validate (libvirt-clients).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDomainXmlDocuments, planFromArgv, printXmlDocuments, renderDomainXml } from '../../src/domain/index.js';
import { argvOf, FIXTURE_DIR, makeScratch, readReferenceCases, userFacts } from './reference-fixtures.js';

const cases = readReferenceCases();
const scratch = makeScratch();
afterAll(() => scratch.cleanup());

// The reference run was virt-install on a KVM-capable x86_64 host as root.
const env = {
  cwd: scratch.root, uid: 0, home: '/root',
  host: { kvmDeviceUsable: true, cpuinfo: 'flags\t\t: fpu vme de pse vmx\n' },
  uuid: () => '00000000-1111-2222-3333-444444444444',
  random: (n: number) => new Uint8Array(n).fill(0xab),
};

function printed(argv: string[]): string[] {
  const step = argv.indexOf('--print-xml');
  const which = step >= 0 && (argv[step + 1] === '1' || argv[step + 1] === '2') ? (Number(argv[step + 1]) as 1 | 2) : 'all';
  return printXmlDocuments(planFromArgv(argv, env), which);
}

describe('tsvirt-install against virt-install reference output', () => {
  it('has at least 40 reference command lines', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases.map((c) => [c.id, c] as const))('%s', (_id, c) => {
    const argv = argvOf(c, scratch);
    const ours = printed(argv);
    const refText = scratch.substitute(readFileSync(join(FIXTURE_DIR, 'refs', `${c.id}.xml`), 'utf8'));
    const theirs = parseDomainXmlDocuments(refText);
    expect(ours.length).toBe(theirs.length);
    const opts = {
      kernelPathsExact: !argv.some((a) => a === '--location' || a === '-l'),
      graphicsGiven: argv.includes('--graphics'),
    };
    ours.forEach((xml, i) => {
      const mine = parseDomainXmlDocuments(xml)[0];
      expect(userFacts(mine, theirs[i], opts), `document ${i + 1}`).toEqual(userFacts(theirs[i], theirs[i], opts));
      // Round trip: render(parse(render(d))) is the same text.
      expect(renderDomainXml(mine)).toBe(xml);
    });
  });

  it('every document passes virt-xml-validate', () => {
    const all = cases.flatMap((c) => printed(argvOf(c, scratch)));
    all.forEach((xml, i) => {
      const file = join(scratch.root, `doc-${i}.xml`);
      writeFileSync(file, xml);
      try {
        execFileSync('virt-xml-validate', [file, 'domain'], { stdio: 'pipe' });
      } catch (err) {
        throw new Error(`${String((err as { stderr?: Buffer }).stderr)}\n${xml}`);
      }
    });
    expect(all.length).toBeGreaterThan(cases.length);
  });
});
