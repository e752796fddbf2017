// An initramfs for the full-kernel lifecycle tests: the fixtures' busybox shell on ttyS0
// plus what turns an ACPI power button press into a clean power-off, as a distribution
// does it: evdev and the ACPI button driver (modules of the cloud kernel, loaded with
// insmod) and busybox acpid, whose PWRF action runs /etc/acpi/PWRF/00000080 (busybox
// acpid.c's default table). Built with cpio and gzip, as test/fixtures/debian/make-initramfs.sh.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { dirname, join } from 'node:path';
import { busyboxAmd64, fixture } from '../support/fixtures.js';

export const SHELL_READY = 'TSVIRT-SHELL-READY';
export const ACPI_POWEROFF = 'TSVIRT-ACPI-POWEROFF';

export function buildAcpidInitramfs(out: string): string {
  if (fs.existsSync(out)) return out;
  const kernel = fixture('KERNEL_CLOUD_AMD64');
  const release = /vmlinuz-(.+)$/.exec(kernel)![1];
  const modules = join(dirname(kernel), '..', 'lib', 'modules', release, 'kernel', 'drivers');
  const work = fs.mkdtempSync(`${out}.work-`);
  try {
    for (const d of ['bin', 'sbin', 'proc', 'sys', 'dev', 'tmp', 'lib/modules', 'etc/acpi/PWRF', 'var/log', 'var/run']) fs.mkdirSync(join(work, d), { recursive: true });
    fs.copyFileSync(busyboxAmd64(), join(work, 'bin/busybox'));
    fs.chmodSync(join(work, 'bin/busybox'), 0o755);
    for (const app of ['sh', 'mount', 'echo', 'insmod', 'acpid', 'poweroff', 'setsid', 'cttyhack', 'uname', 'cat', 'sleep', 'ls']) fs.symlinkSync('busybox', join(work, 'bin', app));
    fs.copyFileSync(join(modules, 'input', 'evdev.ko'), join(work, 'lib/modules/evdev.ko'));
    fs.copyFileSync(join(modules, 'acpi', 'button.ko'), join(work, 'lib/modules/button.ko'));
    fs.writeFileSync(join(work, 'etc/acpi/PWRF/00000080'), `#!/bin/sh\necho ${ACPI_POWEROFF} >/dev/console\npoweroff -f\n`, { mode: 0o755 });
    fs.writeFileSync(join(work, 'init'), [
      '#!/bin/sh',
      'mount -t proc proc /proc',
      'mount -t sysfs sysfs /sys',
      'mount -t devtmpfs devtmpfs /dev 2>/dev/null',
      'insmod /lib/modules/evdev.ko',
      'insmod /lib/modules/button.ko',
      // acpid logs to /var/log/acpid.log and writes /var/run/acpid.pid (busybox acpid.c).
      'acpid',
      'echo TSVIRT-BOOT-MARKER',
      `echo ${SHELL_READY}`,
      'exec setsid cttyhack sh',
      '',
    ].join('\n'), { mode: 0o755 });
    const cpio = execFileSync('sh', ['-c', 'find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -9n'], { cwd: work, maxBuffer: 64 << 20 });
    fs.writeFileSync(`${out}.tmp`, cpio);
    fs.renameSync(`${out}.tmp`, out);
    return out;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
