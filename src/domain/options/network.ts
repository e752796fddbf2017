// --network / -w: one guest NIC (virt-install's ParserNetwork; libvirt <interface>).
// `user` (or type=user), bridge=NAME, network=NAME; model and mac; `--network none` asks
// for no NIC. User networking also takes inbound port forwards, virt-install's passt
// `portForward` keys (grammar in src/vm/net/port-forward.ts), e.g.
// `--network user,portForward=2222:22` or `portForward0.proto=tcp,portForward0.range0.start=2222,
// portForward0.range0.to=22`. Left out: direct/macvtap, vhost-user, portgroups, virtualport.
import { TsvirtError } from '../../lib/errors.js';
import { isPortForwardKey, parsePortForwardOptions, type PortForwardRule } from '../../vm/net/port-forward.js';
import { NIC_MODELS, type NicModel } from '../model.js';
import { integer, oneOf, parseSubOptions, tokenizeSubOptions, type SubOptionTable, type ValueParser } from './suboptions.js';

export interface NetworkOptions {
  type: 'user' | 'bridge' | 'network';
  bridge: string;
  network: string;
  model: NicModel;
  mac: string;
  'boot.order': number;
}

export interface NetworkSpec {
  readonly type: 'user' | 'bridge' | 'network';
  readonly source?: string;
  readonly model?: NicModel;
  readonly mac?: string;
  readonly bootOrder?: number;
  /** Inbound forwards (user networking only), as written; expanded when the NIC is opened. */
  readonly portForwards?: readonly PortForwardRule[];
}

/** A unicast MAC: six hex octets; the multicast bit (bit 0 of the first octet) must be clear. */
export const macAddress: ValueParser<string> = (raw, where) => {
  const mac = raw.toLowerCase();
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) throw new TsvirtError(`${where}: invalid MAC address '${raw}'`, 'write it as six hex octets, e.g. 52:54:00:12:34:56');
  if ((parseInt(mac.slice(0, 2), 16) & 1) !== 0) throw new TsvirtError(`${where}: '${raw}' is a multicast MAC address`, 'the first octet must be even, e.g. 52:54:00:...');
  return mac;
};

/** Linux interface names (IFNAMSIZ 16, no '/', no spaces) and libvirt network names. */
const ifname: ValueParser<string> = (raw, where) => {
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(raw)) throw new TsvirtError(`${where}: invalid name '${raw}'`, 'use at most 15 letters, digits, or . _ - :');
  return raw;
};

export const NETWORK: SubOptionTable<NetworkOptions> = {
  option: '--network',
  first: 'type',
  keys: {
    type: oneOf('user', 'bridge', 'network'),
    bridge: ifname,
    network: ifname,
    model: oneOf(...NIC_MODELS),
    mac: macAddress,
    'boot.order': integer({ min: 1, max: 65535 }),
  },
  summary: 'Configure a guest network interface.',
  examples: ['--network user', '--network user,portForward=2222:22', '--network bridge=br0', '--network network=default,model=virtio,mac=52:54:00:12:34:56', '--network none'],
};

/** A token written back so tokenizeSubOptions reads it unchanged (quoted: values may hold commas). */
function requote(token: { key?: string; value: string }): string {
  const quoted = token.value.includes("'") ? `"${token.value.replace(/["\\]/g, '\\$&')}"` : `'${token.value}'`;
  return token.key === undefined ? quoted : `${token.key}=${quoted}`;
}

export function parseNetwork(raw: string): NetworkSpec | 'none' {
  if (raw === 'none') return 'none';
  // portForward* keys form indexed groups (portForward0.range1.to) no flat table holds:
  // they go to the port-forward grammar, the rest to the table.
  const tokens = tokenizeSubOptions(NETWORK.option, raw);
  const forwardPairs = tokens.filter((t) => t.key !== undefined && isPortForwardKey(t.key)).map((t) => [t.key!, t.value] as const);
  const rest = forwardPairs.length === 0 ? raw : tokens.filter((t) => t.key === undefined || !isPortForwardKey(t.key)).map(requote).join(',');
  const { values: v } = parseSubOptions(NETWORK, rest);
  const type = v.type ?? (v.bridge !== undefined ? 'bridge' : v.network !== undefined ? 'network' : undefined);
  if (type === undefined) throw new TsvirtError(`--network ${raw}: no network type`, 'use user, bridge=NAME or network=NAME');
  const source = type === 'bridge' ? v.bridge : type === 'network' ? v.network : undefined;
  if (type !== 'user' && source === undefined) throw new TsvirtError(`--network ${raw}: type ${type} needs ${type}=NAME`, `add ${type}=NAME`);
  if (type === 'user' && (v.bridge !== undefined || v.network !== undefined)) throw new TsvirtError(`--network ${raw}: user networking takes no bridge= or network=`, 'drop type=user or the source');
  const portForwards = parsePortForwardOptions(forwardPairs);
  if (portForwards.length > 0 && type !== 'user') {
    throw new TsvirtError(`--network ${raw}: portForward needs user networking`, 'use --network user,portForward=... (a bridged guest is reached directly)');
  }
  return { type, source, model: v.model, mac: v.mac, bootOrder: v['boot.order'], ...(portForwards.length > 0 ? { portForwards } : {}) };
}
