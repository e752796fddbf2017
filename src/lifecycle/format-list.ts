// `tsvirt list` as a table in virsh list's layout (a header, a rule, one row per domain),
// with the runner's pid, vCPUs and memory added since tsvirt has no domain ids.
import type { DomainRow } from './domain-state.js';

export function formatDomainList(rows: readonly DomainRow[]): string {
  const table = [
    ['Name', 'State', 'PID', 'vCPUs', 'Memory'],
    ...rows.map((r) => [
      r.name,
      r.state,
      r.pid === undefined ? '-' : String(r.pid),
      r.vcpus === undefined ? '-' : String(r.vcpus),
      r.memoryKiB === undefined ? '-' : `${Math.round(r.memoryKiB / 1024)} MiB`,
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  const line = (row: string[]) => ` ${row.map((c, i) => c.padEnd(widths[i])).join('   ')}`.trimEnd();
  const header = line(table[0]);
  return `${[header, '-'.repeat(header.length + 1), ...table.slice(1).map(line)].join('\n')}\n\n`;
}
