// The kickstart commands tsvirt knows, one table entry per command: positional
// arguments, options (with their value kinds, choices, aliases, required, deprecated and
// removed flags), whether the command may be given once only, and per-command checks.
// Names follow the pykickstart command reference for current Fedora syntax. Option
// checking covers the commands the issue lists plus the storage ones (logvol, volgroup,
// raid, reqpart); other commands pykickstart knows (iscsi, zfcp, rhsm, ...) are accepted
// with any options ("freeform") so a valid file is never called invalid, and commands
// pykickstart has removed are errors.
import type { KsCommand, KsOptionValue } from './model.js';

export type OptionKind = 'flag' | 'string' | 'int' | 'bool' | 'list' | 'append';

export interface OptionSpec {
  readonly kind: OptionKind;
  readonly choices?: readonly string[];
  readonly required?: boolean;
  readonly aliases?: readonly string[];
  /** Accepted with a warning; a string says what to use instead. */
  readonly deprecated?: boolean | string;
  /** Alternative spellings accepted with a warning (pykickstart: KickstartDeprecationWarning). */
  readonly deprecatedAliases?: readonly string[];
  readonly removed?: boolean;
  /** Smallest value an int option accepts. */
  readonly min?: number;
}

export interface CommandSpec {
  readonly name: string;
  readonly aliases?: readonly string[];
  /** Allowed count of positional arguments and what they are called in messages. */
  readonly args?: { readonly min: number; readonly max: number; readonly what: string };
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /** Given more than once is a warning; the last one wins. */
  readonly singleton?: boolean;
  /** Commands that exclude one another (text/graphical/cmdline; the install methods). */
  readonly group?: string;
  readonly status?: 'deprecated' | 'removed';
  /** Accept any options and arguments (commands tsvirt does not act on). */
  readonly freeform?: boolean;
  /** Extra checks on a parsed command; returns error messages. */
  readonly check?: (cmd: KsCommand) => string[];
}

const flag: OptionSpec = { kind: 'flag' };
const str: OptionSpec = { kind: 'string' };
const int: OptionSpec = { kind: 'int', min: 0 };
const list: OptionSpec = { kind: 'list' };
const req = (o: OptionSpec): OptionSpec => ({ ...o, required: true });
const alias = (o: OptionSpec, ...aliases: string[]): OptionSpec => ({ ...o, aliases });
const choice = (...choices: string[]): OptionSpec => ({ kind: 'string', choices });

function has(cmd: KsCommand, ...opts: string[]): boolean {
  return opts.some((o) => cmd.options[o] !== undefined);
}

const MOUNTPOINT_SPECIAL = /^(swap|biosboot|none|None|raid\.\S+|pv\.\S+|btrfs\.\S+)$/;
function checkMountpoint(cmd: KsCommand): string[] {
  const mp = cmd.args[0];
  if (mp === undefined) return [];
  if (mp.startsWith('/') || MOUNTPOINT_SPECIAL.test(mp)) return [];
  return [`The mount point "${mp}" is not valid. It must start with a /.`];
}

function checkSizes(cmd: KsCommand): string[] {
  const size = cmd.options.size as number | undefined;
  const max = cmd.options.maxsize as number | undefined;
  const out: string[] = [];
  if (size !== undefined && max !== undefined && max < size) out.push(`${cmd.written}: --maxsize=${max} is smaller than --size=${size}`);
  if (max !== undefined && !has(cmd, 'grow')) out.push(`${cmd.written}: --maxsize only makes sense with --grow`);
  return out;
}

function checkPassword(cmd: KsCommand): string[] {
  return has(cmd, 'iscrypted') && has(cmd, 'plaintext') ? [`${cmd.written}: --iscrypted and --plaintext cannot be used together`] : [];
}

// RFC 1123 §2.1 host names: labels of letters, digits and hyphens, not starting or
// ending with a hyphen; 64 characters at most (what NetworkManager accepts).
const HOSTNAME_RE = /^(?=.{1,64}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4_RE = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function checkNetwork(cmd: KsCommand): string[] {
  const out: string[] = [];
  const host = cmd.options.hostname as string | undefined;
  if (host !== undefined && !HOSTNAME_RE.test(host)) out.push(`network: the hostname "${host}" is not valid`);
  if (cmd.options.bootproto === 'static' && !has(cmd, 'ip')) out.push('network: --bootproto=static needs --ip');
  for (const o of ['ip', 'netmask', 'gateway']) {
    const v = cmd.options[o] as string | undefined;
    // --ip may also be "auto"-less IPv4 only here; IPv6 goes in --ipv6.
    if (v !== undefined && !IPV4_RE.test(v)) out.push(`network: --${o}=${v} is not a valid IPv4 address`);
  }
  for (const ns of (cmd.options.nameserver as readonly string[] | undefined) ?? []) {
    if (!IPV4_RE.test(ns) && !/^[0-9a-fA-F:]+$/.test(ns)) out.push(`network: --nameserver=${ns} is not a valid IP address`);
  }
  return out;
}

function checkUrl(option: string) {
  return (cmd: KsCommand): string[] => {
    const v = cmd.options[option] as string | undefined;
    if (v === undefined) return [];
    return /^(https?|ftp|file|nfs):\/?\/?\S+$/.test(v) ? [] : [`${cmd.written}: --${option}=${v} is not a valid URL`];
  };
}

const COMMANDS: readonly CommandSpec[] = [
  // Display and interaction.
  { name: 'text', group: 'displaymode', options: { 'non-interactive': flag } },
  { name: 'graphical', group: 'displaymode', options: { 'non-interactive': flag } },
  { name: 'cmdline', group: 'displaymode' },
  { name: 'skipx', singleton: true },
  { name: 'xconfig', singleton: true, options: { startxonboot: flag, defaultdesktop: { ...str, removed: true } } },
  { name: 'eula', singleton: true, options: { agreed: alias(flag, 'accept') }, check: (c) => (has(c, 'agreed') ? [] : ['Kickstart command eula expects the --agreed option']) },
  { name: 'firstboot', singleton: true, options: { enable: alias(flag, 'enabled'), disable: alias(flag, 'disabled'), reconfig: flag } },
  // Localization.
  { name: 'lang', singleton: true, args: { min: 1, max: 1, what: 'language' }, options: { addsupport: list } },
  {
    name: 'keyboard', singleton: true, args: { min: 0, max: 1, what: 'keyboard layout' },
    options: { vckeymap: str, xlayouts: list, switch: list },
    check: (c) => (c.args.length === 0 && !has(c, 'vckeymap', 'xlayouts') ? ['Kickstart command keyboard requires one of --vckeymap or --xlayouts'] : []),
  },
  {
    name: 'timezone', singleton: true, args: { min: 0, max: 1, what: 'timezone' },
    // pykickstart F25+: the zone is optional when an option is given; F32 deprecates
    // --isUtc, F33 --nontp and --ntpservers (replaced by timesource).
    options: {
      utc: { ...flag, aliases: ['isUtc'], deprecatedAliases: ['isUtc'] },
      nontp: { ...flag, deprecated: 'use timesource --ntp-disable' },
      ntpservers: { ...list, deprecated: 'use timesource --ntp-server, once per server' },
    },
    check: (c) => [
      ...(c.args.length === 0 && Object.keys(c.options).length === 0 ? ['At least one option and/or an argument are expected for the timezone command'] : []),
      ...(has(c, 'nontp') && has(c, 'ntpservers') ? ['Options --nontp and --ntpservers are mutually exclusive'] : []),
    ],
  },
  { name: 'timesource', options: { 'ntp-server': str, 'ntp-pool': str, 'ntp-disable': flag, nts: flag } },
  // Users and security.
  {
    name: 'rootpw', singleton: true, args: { min: 0, max: 1, what: 'password' },
    options: { iscrypted: flag, plaintext: flag, lock: flag, 'allow-ssh': flag },
    check: (c) => [...checkPassword(c), ...(c.args.length === 0 && !has(c, 'lock') ? ['rootpw requires a password (or --lock)'] : [])],
  },
  {
    name: 'user',
    options: {
      name: req(str), password: str, iscrypted: flag, plaintext: flag, groups: list, homedir: str,
      lock: flag, shell: str, uid: int, gid: int, gecos: str,
    },
    check: (c) => {
      const out = checkPassword(c);
      const name = c.options.name as string | undefined;
      if (name !== undefined && !/^[a-z_][a-z0-9_-]{0,31}\$?$/.test(name)) out.push(`user: the user name "${name}" is not valid`);
      if (name === 'root') out.push('user: use rootpw for the root account');
      return out;
    },
  },
  { name: 'group', options: { name: req(str), gid: int } },
  { name: 'sshkey', args: { min: 1, max: 1, what: 'ssh key' }, options: { username: req(str) } },
  { name: 'sshpw', args: { min: 1, max: 1, what: 'password' }, options: { username: req(str), iscrypted: flag, plaintext: flag, lock: flag, sshkey: flag } },
  { name: 'selinux', singleton: true, options: { enforcing: flag, permissive: flag, disabled: flag } },
  {
    name: 'firewall', singleton: true,
    options: {
      enabled: alias(flag, 'enable'), disabled: alias(flag, 'disable'), service: { kind: 'append' }, port: { kind: 'append' },
      trust: { kind: 'append' }, 'remove-service': { kind: 'append' }, 'use-system-defaults': flag,
      ssh: flag, smtp: flag, http: flag, ftp: flag, telnet: { ...flag, removed: true },
    },
  },
  {
    name: 'services', singleton: true, options: { enabled: list, disabled: list },
    check: (c) => (has(c, 'enabled', 'disabled') ? [] : ['One of --disabled or --enabled must be provided.']),
  },
  { name: 'authselect', singleton: true, freeform: true },
  { name: 'realm', freeform: true },
  // Network.
  {
    name: 'network',
    options: {
      bootproto: choice('dhcp', 'bootp', 'static', 'ibft', 'query'), device: str, ip: str, ipv6: str, netmask: str,
      gateway: str, ipv6gateway: str, nameserver: list, hostname: str, activate: flag, 'no-activate': flag,
      onboot: { kind: 'bool' }, noipv4: flag, noipv6: flag, mtu: int, essid: str, wpakey: str, ethtool: str,
      nodefroute: flag, nodns: flag, dhcpclass: str, interfacename: str, bindto: choice('mac'),
      vlanid: int, bondslaves: str, bondopts: str, teamslaves: str, teamconfig: str,
      bridgeslaves: str, bridgeopts: str,
    },
    check: checkNetwork,
  },
  // Storage.
  { name: 'zerombr', singleton: true },
  {
    name: 'clearpart', singleton: true,
    options: { all: flag, none: flag, linux: flag, list: list, drives: list, initlabel: flag, disklabel: choice('msdos', 'gpt'), cdl: flag },
  },
  {
    name: 'ignoredisk', singleton: true, options: { drives: list, 'only-use': list, interactive: { ...flag, removed: true } },
    check: (c) => (has(c, 'drives', 'only-use') ? [] : ['One of --drives or --only-use must be specified for ignoredisk command.']),
  },
  {
    name: 'part', aliases: ['partition'], args: { min: 1, max: 1, what: 'mount point' },
    options: {
      size: { kind: 'int', min: 1 }, grow: flag, maxsize: { kind: 'int', min: 1 }, fstype: str, ondisk: alias(str, 'ondrive'),
      asprimary: flag, label: str, noformat: flag, onpart: alias(str, 'usepart'), fsoptions: str, fsprofile: str,
      mkfsoptions: str, recommended: flag, hibernation: flag, encrypted: flag, passphrase: str, resize: flag,
      start: { ...int, removed: true }, end: { ...int, removed: true }, active: { ...flag, removed: true },
    },
    check: (c) => [...checkMountpoint(c), ...checkSizes(c)],
  },
  {
    name: 'autopart', singleton: true,
    options: {
      type: choice('lvm', 'btrfs', 'plain', 'thinp'), fstype: str, nohome: flag, noboot: flag, noswap: flag,
      encrypted: flag, passphrase: str, cipher: str, 'luks-version': str, nolvm: { ...flag, deprecated: true },
    },
  },
  { name: 'reqpart', singleton: true, options: { 'add-boot': flag } },
  {
    name: 'logvol', args: { min: 1, max: 1, what: 'mount point' },
    options: {
      vgname: req(str), name: req(str), size: { kind: 'int', min: 1 }, grow: flag, maxsize: { kind: 'int', min: 1 },
      fstype: str, percent: int, recommended: flag, hibernation: flag, label: str, noformat: flag, useexisting: flag,
      encrypted: flag, passphrase: str, thin: flag, thinpool: flag, poolname: str, fsoptions: str, mkfsoptions: str,
    },
    check: (c) => [...checkMountpoint(c), ...checkSizes(c)],
  },
  {
    name: 'volgroup', args: { min: 1, max: 256, what: 'volume group name' },
    options: { pesize: int, useexisting: flag, noformat: flag, 'reserved-space': int, 'reserved-percent': int },
  },
  {
    name: 'raid', args: { min: 1, max: 256, what: 'mount point' },
    options: { level: req(str), device: req(str), spares: int, fstype: str, label: str, noformat: flag, useexisting: flag, encrypted: flag, passphrase: str, fsoptions: str, mkfsoptions: str },
  },
  { name: 'btrfs', freeform: true },
  {
    name: 'bootloader', singleton: true,
    options: {
      location: choice('mbr', 'partition', 'none', 'boot'), append: str, timeout: int, 'boot-drive': str,
      driveorder: list, password: str, iscrypted: flag, md5pass: str, leavebootorder: flag, extlinux: flag,
      disabled: flag, nombr: flag, sdboot: flag, upgrade: { ...flag, removed: true }, lba32: { ...flag, removed: true },
    },
  },
  // Installation source.
  {
    name: 'url', group: 'method', options: { url: str, mirrorlist: str, metalink: str, proxy: str, noverifyssl: flag, sslcacert: str, sslclientcert: str, sslclientkey: str },
    check: (c) => [...(has(c, 'url', 'mirrorlist', 'metalink') ? [] : ['One of --url, --mirrorlist or --metalink must be specified for url command.']), ...checkUrl('url')(c)],
  },
  {
    name: 'liveimg', group: 'method', options: { url: req(str), checksum: str, proxy: str, noverifyssl: flag },
    check: (c) => {
      const out = checkUrl('url')(c);
      const sum = c.options.checksum as string | undefined;
      if (sum !== undefined && !/^(sha256:)?[0-9a-fA-F]{64}$/.test(sum)) out.push(`liveimg: --checksum must be a sha256 digest (64 hex digits), not "${sum}"`);
      return out;
    },
  },
  { name: 'cdrom', group: 'method' },
  { name: 'harddrive', group: 'method', options: { partition: str, biospart: str, dir: req(str) } },
  { name: 'nfs', group: 'method', options: { server: req(str), dir: req(str), opts: str } },
  { name: 'ostreesetup', group: 'method', freeform: true },
  { name: 'ostreecontainer', group: 'method', freeform: true },
  { name: 'bootc', group: 'method', freeform: true },
  {
    name: 'repo',
    options: {
      name: req(str), baseurl: str, mirrorlist: str, metalink: str, cost: int, excludepkgs: list, includepkgs: list,
      proxy: str, noverifyssl: flag, install: flag, sslcacert: str, sslclientcert: str, sslclientkey: str,
    },
    check: (c) => (has(c, 'baseurl', 'mirrorlist', 'metalink') ? [] : ['One of --baseurl, --mirrorlist or --metalink must be specified for repo command.']),
  },
  // The final action.
  { name: 'reboot', group: 'reboot', options: { eject: flag, kexec: flag } },
  { name: 'poweroff', group: 'reboot', options: { eject: flag, kexec: flag } },
  { name: 'shutdown', group: 'reboot', options: { eject: flag, kexec: flag } },
  { name: 'halt', group: 'reboot', options: { eject: flag, kexec: flag } },
  // Logging and misc.
  { name: 'logging', singleton: true, options: { host: str, port: str, level: { ...str, deprecated: true } } },
  { name: 'mediacheck', singleton: true },
  { name: 'rescue', singleton: true, options: { nomount: flag, romount: flag } },
  { name: 'vnc', singleton: true, freeform: true },
  { name: 'rdp', singleton: true, freeform: true },
  { name: 'updates', singleton: true, freeform: true },
  { name: 'driverdisk', freeform: true },
  { name: 'iscsi', freeform: true },
  { name: 'iscsiname', singleton: true, freeform: true },
  { name: 'fcoe', freeform: true },
  { name: 'zfcp', freeform: true },
  { name: 'zipl', singleton: true, freeform: true },
  { name: 'nvdimm', freeform: true },
  { name: 'module', freeform: true },
  { name: 'mount', freeform: true },
  { name: 'snapshot', freeform: true },
  { name: 'rhsm', singleton: true, freeform: true },
  { name: 'syspurpose', singleton: true, freeform: true },
  { name: 'hmc', singleton: true, freeform: true },
  // Commands the current handler (pykickstart F43) maps to RemovedCommand: an error.
  // Older ones it no longer maps at all (mouse, lilo, upgrade, ...) are unknown commands.
  ...['install', 'method', 'auth', 'authconfig', 'autostep', 'device', 'deviceprobe', 'dmraid', 'multipath']
    .map((name): CommandSpec => ({ name, status: 'removed', freeform: true })),
];

export interface OptionLookup {
  readonly canonical: string;
  readonly spec: OptionSpec;
}

export interface CompiledCommand extends CommandSpec {
  readonly optionIndex: ReadonlyMap<string, OptionLookup>;
}

function compile(spec: CommandSpec): CompiledCommand {
  const index = new Map<string, OptionLookup>();
  for (const [name, o] of Object.entries(spec.options ?? {})) {
    index.set(`--${name}`, { canonical: name, spec: o });
    for (const a of o.aliases ?? []) index.set(`--${a}`, { canonical: name, spec: o });
  }
  return { ...spec, optionIndex: index };
}

const TABLE = new Map<string, CompiledCommand>();
for (const spec of COMMANDS) {
  const compiled = compile(spec);
  if (!TABLE.has(spec.name)) TABLE.set(spec.name, compiled);
  for (const a of spec.aliases ?? []) TABLE.set(a, compiled);
}

export function lookupCommand(name: string): CompiledCommand | undefined {
  return TABLE.get(name);
}

/** Command names in table order (the order `ks print` uses). */
export const COMMAND_ORDER: readonly string[] = [...new Set(COMMANDS.map((c) => c.name))];

export type { KsOptionValue };
