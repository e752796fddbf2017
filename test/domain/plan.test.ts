// runInstallFrontEnd, the library behind the command: what each mode prints, --print-xml
// steps, --quiet, and the refusal of a real run.
import { afterAll, describe, expect, it } from 'vitest';
import { split } from 'shlex';
import { parseDomainXmlDocuments, runInstallFrontEnd } from '../../src/domain/index.js';
import { describeError } from '../../src/lib/errors.js';
import { makeScratch } from './reference-fixtures.js';

const scratch = makeScratch();
afterAll(() => scratch.cleanup());
const env = { cwd: scratch.root, uid: 1000, home: scratch.root, host: { kvmDeviceUsable: true, cpuinfo: 'flags : svm' } };
const run = (line: string) => runInstallFrontEnd(split(scratch.substitute(line)), env, '9.9.9');
const errorOf = (line: string) => {
  try {
    run(line);
  } catch (err) {
    return describeError(err);
  }
  return 'no error';
};

describe('runInstallFrontEnd', () => {
  it('prints help, the version and the variant list without needing other options', () => {
    expect(run('--help').stdout).toContain('Installation Method Options:');
    expect(run('--name x --version').stdout).toBe('9.9.9\n');
    expect(run('--osinfo list').stdout.split('\n')).toContain('debian11, debianbullseye');
  });

  it('prints both documents of an install, or one step', () => {
    const line = '--name c --memory 1024 --cdrom @DIR@/install.iso --osinfo fedora37 --print-xml';
    const both = parseDomainXmlDocuments(run(line).stdout);
    expect(both.map((d) => [d.type, d.lifecycle.onReboot, d.os.bootOrder, d.devices.disks.map((x) => x.sourcePath !== undefined)])).toEqual([
      ['kvm', 'destroy', ['cdrom', 'hd'], [true, true]],
      ['kvm', 'restart', ['hd'], [true, false]],
    ]);
    expect(parseDomainXmlDocuments(run(`${line} 1`).stdout)).toEqual([both[0]].map((d) => ({ ...d, uuid: expect.any(String), devices: { ...d.devices, interfaces: [expect.anything()] } })));
  });

  it('refuses step 2 when there is only one document', () => {
    expect(errorOf('--name i --memory 1024 --import --disk @DIR@/disk.qcow2 --osinfo fedora37 --print-xml 2')).toBe('--print-xml 2: this install has only 1 step; use --print-xml or --print-xml 1');
  });

  it('--quiet drops warnings and the dry-run text, not the XML', () => {
    const low = '--name q --memory 64 --import --disk @DIR@/disk.qcow2 --osinfo fedora37';
    expect(run(`${low} --dry-run`).warnings).toHaveLength(1);
    expect(run(`${low} --dry-run --quiet`)).toMatchObject({ stdout: '', warnings: [], mode: 'dry-run' });
    expect(run(`${low} --print-xml -q`).stdout).toContain('<domain type="kvm">');
  });

  it('says once why the default runs the software CPU, for runs and dry runs only', () => {
    const noKvm = { ...env, host: { kvmDeviceUsable: true, cpuinfo: 'flags : fpu vme' } };
    const base = '--name n --memory 1024 --pxe --disk none --osinfo fedora37';
    const fe = (extra: string, e = noKvm) => runInstallFrontEnd(split(`${base} ${extra}`), e, '1');
    expect(fe('--dry-run').accelNote).toBe("KVM acceleration not available, using tsvirt's software CPU: the host CPU reports no hardware virtualization (vmx/svm), so /dev/kvm here would emulate in software");
    expect(fe('--dry-run').plan?.domain.type).toBe('qemu');
    expect(fe('').accelNote).toMatch(/^KVM acceleration not available/);
    expect(fe('--dry-run', { ...env, host: { kvmDeviceUsable: false, cpuinfo: 'flags : vmx' } }).accelNote).toMatch(/\/dev\/kvm is missing or cannot be opened read-write/);
    expect(fe('--dry-run --virt-type qemu').accelNote).toBeUndefined(); // asked for: nothing to explain
    expect(fe('--dry-run --quiet').accelNote).toBeUndefined();
    expect(fe('--print-xml').accelNote).toBeUndefined(); // stdout is the XML; nothing else is said
    expect(fe('--dry-run', env).accelNote).toBeUndefined(); // KVM usable
  });

  it('--check disk_size: preallocated images must fit, sparse ones warn', () => {
    const tenGiB = { ...env, freeBytes: () => 10 * 2 ** 30 };
    const line = (disk: string) => split(scratch.substitute(`--name s --memory 1024 --pxe --disk ${disk} --osinfo fedora37 --dry-run`));
    expect(() => runInstallFrontEnd(line('path=@DIR@/big.qcow2,size=20,sparse=no'), tenGiB, '1')).toThrow(
      `There is not enough free space in ${scratch.dir} to create the disk images (20480 M requested allocation > 10240 M available)`,
    );
    expect(runInstallFrontEnd(line('path=@DIR@/big.qcow2,size=20'), tenGiB, '1').warnings).toEqual([
      `The requested disk capacity will exceed the available space in ${scratch.dir} when the images are fully allocated (20480 M requested capacity > 10240 M available)`,
    ]);
    expect(runInstallFrontEnd([...line('path=@DIR@/big.qcow2,size=20,sparse=no'), '--check', 'disk_size=off'], tenGiB, '1').warnings).toEqual([]);
    expect(runInstallFrontEnd(line('path=@DIR@/small.qcow2,size=2,sparse=no'), tenGiB, '1').warnings).toEqual([]);
  });

  it('--check disk_size asks the real file system when not told', () => {
    expect(errorOf('--name s --memory 1024 --pxe --disk path=@DIR@/new/dir/huge.raw,size=100000000,sparse=no,format=raw --osinfo fedora37 --dry-run')).toMatch(/^There is not enough free space in .*\/new\/dir to create the disk images/);
  });

  it('hands a real run to the caller as a plan, printing nothing', () => {
    const out = run('--name r --memory 1024 --import --disk @DIR@/disk.qcow2 --osinfo fedora37');
    expect(out.mode).toBe('run');
    expect(out.stdout).toBe('');
    expect(out.plan?.finalPhase.name).toBe('r');
    expect(out.plan?.dryRunPlan.media.method).toBe('import');
  });
});
