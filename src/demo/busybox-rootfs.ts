// A small busybox root file system tarball, built with tar-stream: the liveimg payload
// of the demo and the install tests. Busybox with applet links, an inittab with a getty
// on ttyS0, an rcS that remounts / read-write, passwd/shadow/group.
import { createWriteStream, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';

const APPLETS = ['sh', 'ls', 'cat', 'mount', 'umount', 'echo', 'getty', 'login', 'hostname', 'poweroff', 'reboot', 'halt', 'uname', 'sync', 'sleep', 'mkdir', 'ps', 'id'];

export async function writeBusyboxRootfs(busybox: string, out: string): Promise<void> {
  const pack = tar.pack();
  const dir = (name: string): void => void pack.entry({ name, type: 'directory', mode: 0o755 });
  const file = (name: string, data: string | Buffer, mode = 0o644): void => void pack.entry({ name, mode }, data);
  for (const d of ['bin', 'sbin', 'etc', 'etc/init.d', 'proc', 'sys', 'dev', 'tmp', 'root', 'home', 'usr', 'usr/bin', 'var', 'run']) dir(d);
  file('bin/busybox', readFileSync(busybox), 0o755);
  for (const a of APPLETS) pack.entry({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' });
  pack.entry({ name: 'sbin/init', type: 'symlink', linkname: '../bin/busybox' });
  file('etc/inittab', '::sysinit:/etc/init.d/rcS\nttyS0::respawn:/bin/getty -L 115200 ttyS0 vt100\n::shutdown:/bin/umount -a -r\n');
  file('etc/init.d/rcS', '#!/bin/sh\nmount -t proc proc /proc\nmount -t sysfs sysfs /sys\nmount -o remount,rw /\n[ -f /etc/hostname ] && hostname -F /etc/hostname\necho "rootfs up: $(uname -r)"\n', 0o755);
  file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
  file('etc/shadow', 'root:*:19000:0:99999:7:::\n', 0o600);
  file('etc/group', 'root:x:0:\nwheel:x:10:\n');
  pack.finalize();
  await pipeline(pack, createGzip(), createWriteStream(out));
}
