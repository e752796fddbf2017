// What tsvirt injects into the installer initramfs for one install: the kickstart as
// ks.cfg, and the plan turned into files busybox ash can read without parsing JSON
// (templates/installer/init is their reader):
//   tsvirt/plan.sh        shell variables, every value single-quoted
//   tsvirt/filesystems    "DEVICE FSTYPE MOUNTPOINT LABEL", parents before children
//   tsvirt/accounts       "NAME:UID:GID:GECOS:HOME:SHELL:HASH:GROUPS", root first
//   tsvirt/interfaces     the installed system's /etc/network/interfaces (ifupdown)
//   tsvirt/resolv.conf    its /etc/resolv.conf (static networks with --nameserver)
//   tsvirt/groups         "NAME:GID" lines (kickstart group), before the accounts
//   tsvirt/sshkeys        "USER KEY" lines (kickstart sshkey)
//   tsvirt/scripts/KIND-N and KIND-N.env   %pre/%post bodies and their options
// Everything here comes from a kickstart, i.e. from the user or a URL: each value that
// reaches the guest shell is checked against what the installer can take, and what it
// cannot carry out (a file system the tree's installer cannot make, services, firewall
// rules, SELinux, packages) fails here, before any disk is touched: the user gets what
// the kickstart says or an error, never a quiet substitute.
import { TsvirtError } from '../lib/errors.js';
import type { CpioEntry } from './cpio-newc.js';
import type { InstallPlan, PlannedPartition } from './plan/install-plan.js';
import { PAYLOAD_SERIAL } from './payload-disk.js';

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
  /** The file system types the tree's installer can make (its .treeinfo says which). */
  installerFilesystems: readonly string[];
}

/** ' → '\'' : the one quoting that busybox ash reads back verbatim. */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new TsvirtError('a kickstart value contains a NUL byte');
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function fail(what: string, hint?: string): never {
  throw new TsvirtError(`the kickstart asks for ${what}, which tsvirt's installer cannot install`, hint);
}

/** Something the installer could do one day: said as "not supported yet". */
function notYet(what: string, hint?: string): never {
  throw new TsvirtError(`the kickstart asks for ${what}, which tsvirt's installer does not support yet`, hint);
}

function partitionDevice(target: string, number: number): string {
  if (!/^[a-z]{2,4}$/.test(target)) fail(`disk ${target}`);
  return `/dev/${target}${number}`;
}

function depth(mountpoint: string): number {
  return mountpoint === '/' ? 0 : mountpoint.split('/').length - 1;
}

/** The installer's name for a kickstart file system type (an EFI system partition is FAT). */
function installerFstype(fstype: string): string {
  return fstype === 'efi' ? 'vfat' : fstype;
}

function filesystemLines(plan: InstallPlan, canMake: readonly string[]): string[] {
  const rows: Array<{ p: PlannedPartition; dev: string }> = [];
  for (const disk of plan.disks) {
    for (const p of disk.partitions) {
      if (p.mountpoint === 'biosboot' || p.mountpoint === 'none') continue;
      if (!canMake.includes(installerFstype(p.fstype))) {
        const ext = ['ext3', 'ext4'].includes(p.fstype);
        throw new TsvirtError(
          `the kickstart asks for ${p.fstype} on ${p.mountpoint} (${p.origin}), but this tree's installer can make only ${canMake.join(', ')}`,
          ext ? 'rebuild the tree with mke2fs in it (tsvirt tree build --tools-root /, on a host with e2fsprogs)' : `use one of ${canMake.join(', ')}`,
        );
      }
      if (p.fsoptions !== undefined) notYet(`part --fsoptions (${p.origin})`, 'remove --fsoptions: the installer mounts with defaults');
      if (p.mkfsoptions !== undefined) notYet(`part --mkfsoptions (${p.origin})`, 'remove --mkfsoptions');
      if (p.fstype !== 'swap' && !MOUNT_RE.test(p.mountpoint)) fail(`mount point ${JSON.stringify(p.mountpoint)} (${p.origin})`);
      if (p.label !== undefined && !LABEL_RE.test(p.label)) fail(`label ${JSON.stringify(p.label)} (${p.origin})`, 'labels are at most 16 letters, digits, . _ -');
      rows.push({ p, dev: partitionDevice(disk.target, p.number) });
    }
  }
  if (!rows.some((r) => r.p.mountpoint === '/')) fail('no / file system', 'add part / --grow --fstype ext4');
  // Parents first: / before /boot before /boot/efi; swap last.
  rows.sort((a, b) => (a.p.fstype === 'swap' ? 1 : 0) - (b.p.fstype === 'swap' ? 1 : 0) || depth(a.p.mountpoint) - depth(b.p.mountpoint));
  return rows.map(({ p, dev }) => `${dev} ${installerFstype(p.fstype)} ${p.fstype === 'swap' ? 'swap' : p.mountpoint} ${p.label ?? ''}`.trimEnd());
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

/** The network command that configures the installed system's interface (tsvirt configures one). */
function configuredNetwork(plan: InstallPlan): InstallPlan['network'][number] | undefined {
  // A network line with only --hostname configures no interface.
  const configuring = plan.network.filter((n) => n.device !== undefined || n.bootproto !== 'dhcp' || n.ip !== undefined || n.nameservers.length > 0);
  const devices = new Set(configuring.map((n) => n.device ?? ''));
  if (devices.size > 1) notYet(`${devices.size} network interfaces (${[...devices].map((d) => d || 'the default').join(', ')})`, 'configure one interface');
  for (const n of plan.network) {
    if (n.ipv6 !== undefined) notYet('network --ipv6');
    if (n.mtu !== undefined) notYet('network --mtu');
  }
  return configuring.at(-1) ?? plan.network[0];
}

function resolvConf(plan: InstallPlan): string | undefined {
  const servers = configuredNetwork(plan)?.nameservers ?? [];
  for (const ns of servers) if (!/^[0-9a-fA-F.:]{2,45}$/.test(ns)) fail(`a name server ${JSON.stringify(ns)}`);
  return servers.length > 0 ? `# written by the tsvirt installer from the kickstart\n${servers.map((ns) => `nameserver ${ns}`).join('\n')}\n` : undefined;
}

/** What the kickstart asks that the installer cannot do yet: refused before any disk is touched. */
function refuseUnsupported(plan: InstallPlan): void {
  const pkgs = plan.packages;
  if (pkgs && (pkgs.packages.length > 0 || pkgs.groups.length > 0)) {
    fail(`%packages (${[...pkgs.groups.map((g) => `@${g}`), ...pkgs.packages].slice(0, 5).join(' ')}...), but a liveimg install copies a root file system and installs no packages`, 'remove the %packages entries, or put the packages into the liveimg');
  }
  if (plan.services.enabled.length > 0 || plan.services.disabled.length > 0) notYet('services --enabled/--disabled', 'enable services in a %post script');
  if (plan.firewall?.enabled && (plan.firewall.services.length > 0 || plan.firewall.ports.length > 0)) {
    notYet('firewall rules (--service/--port)', 'use firewall --disabled, or write the rules in a %post script');
  }
  if (plan.selinux === 'enforcing' || plan.selinux === 'permissive') notYet(`selinux --${plan.selinux}`, 'use selinux --disabled');
  if ((plan.timezone?.ntpServers.length ?? 0) > 0) notYet('timezone --ntpservers', 'configure time servers in a %post script');
}

function groupLines(plan: InstallPlan): string[] {
  return plan.groups.map((g) => {
    if (!NAME_RE.test(g.name)) fail(`a group named ${JSON.stringify(g.name)}`);
    return `${g.name}:${g.gid ?? ''}`;
  });
}

function sshKeyLines(plan: InstallPlan): string[] {
  const users = new Set(['root', ...plan.users.map((u) => u.name)]);
  return plan.sshKeys.map((k) => {
    if (!users.has(k.user)) fail(`an sshkey for ${JSON.stringify(k.user)}, a user the kickstart does not create`);
    // An authorized_keys line: key type, base64 key, optional comment; nothing a shell or file could misread.
    if (!/^[\x20-\x7e]{1,16384}$/.test(k.key) || !/^(ssh|ecdsa|sk-)[\w@.-]* [A-Za-z0-9+/=]+( [\x20-\x7e]*)?$/.test(k.key)) {
      fail(`an sshkey for ${k.user} that is not an OpenSSH public key line`);
    }
    return `${k.user} ${k.key}`;
  });
}

function interfacesFile(plan: InstallPlan): string | undefined {
  const net = configuredNetwork(plan);
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
  refuseUnsupported(plan);
  const filesystems = filesystemLines(plan, input.installerFilesystems);
  const accounts = accountLines(plan);
  const groups = groupLines(plan);
  const sshKeys = sshKeyLines(plan);
  const lang = plan.lang;
  if (lang !== undefined && !/^[A-Za-z0-9_.@-]{1,64}$/.test(lang)) fail(`lang ${JSON.stringify(lang)}`);
  const keymap = plan.keyboard?.vckeymap;
  if (keymap !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(keymap)) fail(`keyboard ${JSON.stringify(keymap)}`);
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
    TSVIRT_LANG: lang ?? '',
    TSVIRT_KEYMAP: keymap ?? '',
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
  const resolv = resolvConf(plan);
  if (resolv) entries.push({ path: 'tsvirt/resolv.conf', type: 'file', data: text(resolv) });
  if (groups.length > 0) entries.push({ path: 'tsvirt/groups', type: 'file', data: text(`${groups.join('\n')}\n`) });
  if (sshKeys.length > 0) entries.push({ path: 'tsvirt/sshkeys', type: 'file', data: text(`${sshKeys.join('\n')}\n`) });
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
