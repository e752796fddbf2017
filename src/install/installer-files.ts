// What tsvirt injects into the installer initramfs for one install: the kickstart as
// ks.cfg, and the plan turned into files busybox ash can read without parsing JSON
// (templates/installer/init is their reader):
//   tsvirt/plan.sh        shell variables, every value single-quoted
//   tsvirt/filesystems    "DEVICE FSTYPE MOUNTPOINT LABEL", parents before children
//   tsvirt/accounts       "NAME:UID:GID:GECOS:HOME:SHELL:HASH:GROUPS", root first
//   tsvirt/interfaces     the installed system's /etc/network/interfaces (ifupdown)
//   tsvirt/scripts/KIND-N and KIND-N.env   %pre/%post bodies and their options
// Everything here comes from a kickstart, i.e. from the user or a URL: each value that
// reaches the guest shell is checked against what the installer can take, and what it
// cannot install fails here, before any disk is touched.
import { TsvirtError } from '../lib/errors.js';
import type { CpioEntry } from './cpio-newc.js';
import type { InstallPlan, PlannedPartition } from './plan/install-plan.js';
import { PAYLOAD_SERIAL } from './payload-disk.js';

const SUPPORTED_FS = new Set(['ext4', 'ext3', 'ext2', 'swap']);
const NAME_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
const HASH_RE = /^[./0-9A-Za-z$]*$/;
const LABEL_RE = /^[\w.-]{0,16}$/;
const MOUNT_RE = /^\/[\w./-]*$/;

export interface InstallerFilesInput {
  plan: InstallPlan;
  kickstartText: string;
  kernelRelease: string;
  /** File name of the liveimg as fetched (its extension tells the installer how to unpack). */
  liveimgName: string;
}

/** ' → '\'' : the one quoting that busybox ash reads back verbatim. */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new TsvirtError('a kickstart value contains a NUL byte');
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function fail(what: string, hint?: string): never {
  throw new TsvirtError(`the kickstart asks for ${what}, which tsvirt's installer cannot install`, hint);
}

function partitionDevice(target: string, number: number): string {
  if (!/^[a-z]{2,4}$/.test(target)) fail(`disk ${target}`);
  return `/dev/${target}${number}`;
}

function depth(mountpoint: string): number {
  return mountpoint === '/' ? 0 : mountpoint.split('/').length - 1;
}

function filesystemLines(plan: InstallPlan): string[] {
  const rows: Array<{ p: PlannedPartition; dev: string }> = [];
  for (const disk of plan.disks) {
    for (const p of disk.partitions) {
      if (p.mountpoint === 'biosboot' || p.mountpoint === 'none') continue;
      if (!SUPPORTED_FS.has(p.fstype)) fail(`file system ${p.fstype} on ${p.mountpoint} (${p.origin})`, 'use ext4, ext3, ext2 or swap');
      if (p.fstype !== 'swap' && !MOUNT_RE.test(p.mountpoint)) fail(`mount point ${JSON.stringify(p.mountpoint)} (${p.origin})`);
      if (p.label !== undefined && !LABEL_RE.test(p.label)) fail(`label ${JSON.stringify(p.label)} (${p.origin})`, 'labels are at most 16 letters, digits, . _ -');
      rows.push({ p, dev: partitionDevice(disk.target, p.number) });
    }
  }
  if (!rows.some((r) => r.p.mountpoint === '/')) fail('no / file system', 'add part / --grow --fstype ext4');
  // Parents first: / before /boot before /boot/efi; swap last.
  rows.sort((a, b) => (a.p.fstype === 'swap' ? 1 : 0) - (b.p.fstype === 'swap' ? 1 : 0) || depth(a.p.mountpoint) - depth(b.p.mountpoint));
  return rows.map(({ p, dev }) => `${dev} ${p.fstype} ${p.fstype === 'swap' ? 'swap' : p.mountpoint} ${p.label ?? ''}`.trimEnd());
}

function hashField(hash: string | null, locked: boolean, who: string): string {
  if (hash !== null && !HASH_RE.test(hash)) fail(`a password hash for ${who} with characters outside crypt(3)'s alphabet`);
  const h = hash ?? '*';
  return locked ? `!${h}` : h;
}

function gecosField(gecos: string | undefined): string {
  return (gecos ?? '').replace(/[:\n\r\\]/g, ' ');
}

function accountLines(plan: InstallPlan): string[] {
  const lines = [`root:0:0:root:/root:/bin/sh:${hashField(plan.root.passwordHash, plan.root.locked, 'root')}:`];
  const used = new Set([0]);
  let nextUid = 1000;
  for (const u of plan.users) {
    if (!NAME_RE.test(u.name) || u.name === 'root') fail(`a user named ${JSON.stringify(u.name)}`);
    for (const g of u.groups) if (!NAME_RE.test(g)) fail(`a group named ${JSON.stringify(g)}`);
    while (used.has(nextUid)) nextUid++;
    const uid = u.uid ?? nextUid;
    used.add(uid);
    const home = u.homedir ?? `/home/${u.name}`;
    const shell = u.shell ?? '/bin/sh';
    if (!MOUNT_RE.test(home) || !MOUNT_RE.test(shell)) fail(`home ${home} / shell ${shell} for ${u.name}`);
    lines.push([u.name, uid, u.gid ?? uid, gecosField(u.gecos), home, shell, hashField(u.passwordHash, u.locked, u.name), u.groups.join(',')].join(':'));
  }
  return lines;
}

function interfacesFile(plan: InstallPlan): string | undefined {
  const net = plan.network[0];
  if (!net) return undefined;
  const dev = net.device && /^[a-z][a-z0-9]{0,14}$/.test(net.device) ? net.device : 'eth0';
  const lines = ['# written by the tsvirt installer from the kickstart', 'auto lo', 'iface lo inet loopback', '', `auto ${dev}`];
  if (net.bootproto === 'static') {
    const ipv4 = /^(\d{1,3}\.){3}\d{1,3}$/;
    if (!net.ip || !ipv4.test(net.ip) || (net.netmask && !ipv4.test(net.netmask)) || (net.gateway && !ipv4.test(net.gateway))) {
      fail('a static network without a valid --ip/--netmask/--gateway');
    }
    lines.push(`iface ${dev} inet static`, `  address ${net.ip}`);
    if (net.netmask) lines.push(`  netmask ${net.netmask}`);
    if (net.gateway) lines.push(`  gateway ${net.gateway}`);
  } else {
    lines.push(`iface ${dev} inet dhcp`);
  }
  return `${lines.join('\n')}\n`;
}

export function renderInstallerFiles(input: InstallerFilesInput): CpioEntry[] {
  const { plan } = input;
  if (plan.source.kind !== 'liveimg') {
    fail(plan.source.kind === 'url' ? 'a package install from a repository (url/%packages)' : 'no payload', 'give the kickstart a liveimg --url= (a root file system tarball)');
  }
  if (!/\.(tar|tar\.gz|tgz|tar\.xz|txz)$/.test(input.liveimgName)) fail(`liveimg ${input.liveimgName}`, 'use a .tar, .tar.gz or .tar.xz root file system');
  const filesystems = filesystemLines(plan);
  const accounts = accountLines(plan);
  const hostname = plan.hostname ?? plan.network.find((n) => n.hostname)?.hostname;
  if (hostname !== undefined && !/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(hostname)) fail(`host name ${JSON.stringify(hostname)}`);
  const tz = plan.timezone?.name;
  if (tz !== undefined && !/^[A-Za-z0-9_+\-/]{1,64}$/.test(tz)) fail(`time zone ${JSON.stringify(tz)}`);
  const scripts = { pre: plan.scripts.filter((s) => s.kind === 'pre'), post: plan.scripts.filter((s) => s.kind === 'post') };
  const vars: Record<string, string> = {
    TSVIRT_SUMMARY: `${plan.disks.length} disk(s), ${filesystems.length} file system(s), liveimg ${input.liveimgName}`,
    TSVIRT_ACTION: plan.finalAction.action === 'shutdown' ? 'poweroff' : plan.finalAction.action,
    TSVIRT_HOSTNAME: hostname ?? '',
    TSVIRT_TIMEZONE: tz ?? '',
    TSVIRT_KERNEL_VERSION: input.kernelRelease,
    TSVIRT_BOOT_APPEND: plan.bootloader.append,
    TSVIRT_LIVEIMG_NAME: input.liveimgName,
    TSVIRT_PAYLOAD_SERIAL: PAYLOAD_SERIAL,
    TSVIRT_PRE_COUNT: String(scripts.pre.length),
    TSVIRT_POST_COUNT: String(scripts.post.length),
  };
  const text = (s: string): Uint8Array => Buffer.from(s, 'utf8');
  const planSh = ['# generated by tsvirt from the kickstart; read by /init', ...Object.entries(vars).map(([k, v]) => `${k}=${shellQuote(v)}`)].join('\n');
  const entries: CpioEntry[] = [
    { path: 'ks.cfg', type: 'file', data: text(input.kickstartText) },
    { path: 'tsvirt', type: 'directory' },
    { path: 'tsvirt/plan.sh', type: 'file', data: text(`${planSh}\n`) },
    { path: 'tsvirt/filesystems', type: 'file', data: text(`${filesystems.join('\n')}\n`) },
    { path: 'tsvirt/accounts', type: 'file', mode: 0o600, data: text(`${accounts.join('\n')}\n`) },
    { path: 'tsvirt/scripts', type: 'directory' },
  ];
  const ifaces = interfacesFile(plan);
  if (ifaces) entries.push({ path: 'tsvirt/interfaces', type: 'file', data: text(ifaces) });
  for (const kind of ['pre', 'post'] as const) {
    scripts[kind].forEach((s, i) => {
      if (!MOUNT_RE.test(s.interpreter)) fail(`interpreter ${JSON.stringify(s.interpreter)} (${s.origin})`);
      if (s.log !== undefined && !MOUNT_RE.test(s.log)) fail(`a %${kind} --log path ${JSON.stringify(s.log)} (${s.origin})`);
      const env = [
        `INTERP=${shellQuote(s.interpreter)}`,
        `NOCHROOT=${s.nochroot ? 1 : 0}`,
        `LOGFILE=${shellQuote(s.log ?? '')}`,
        `ERRORONFAIL=${s.erroronfail ? 1 : 0}`,
      ];
      entries.push({ path: `tsvirt/scripts/${kind}-${i + 1}`, type: 'file', mode: 0o755, data: text(s.body) });
      entries.push({ path: `tsvirt/scripts/${kind}-${i + 1}.env`, type: 'file', data: text(`${env.join('\n')}\n`) });
    });
  }
  return entries;
}
