// Where the user-mode network's DNS address (10.0.2.3) forwards queries: the host's first
// IPv4 `nameserver` in resolv.conf (resolv.conf(5)). IPv6 nameservers are skipped because
// the NAT's host sockets are IPv4.

import { readFileSync } from 'node:fs';
import { parseIpv4Address } from './ipv4.js';

export interface DnsUpstream {
  readonly address: string;
  readonly port: number;
}

export const DNS_PORT = 53;

/** The first IPv4 nameserver in `path`, or null when there is none (or no file). */
export function hostDnsUpstream(path = '/etc/resolv.conf'): DnsUpstream | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && parseIpv4Address(m[1]!) !== null) return { address: m[1]!, port: DNS_PORT };
  }
  return null;
}
