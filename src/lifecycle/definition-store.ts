// Persistent domain definitions, kept as libvirt domain XML the way libvirt's qemu driver
// keeps /etc/libvirt/qemu: one NAME.xml per domain (tsvirt's own rendering of the parsed
// definition, so only what tsvirt understood is stored) and autostart/NAME.xml symlinks
// for the domains `start --autostart-all` starts. Names and UUIDs are unique across the
// store, as libvirt enforces on define. Writes are atomic (temporary file + rename).
// Leaves out: snapshots, managed save images, per-domain NVRAM.
import fs from 'node:fs';
import { join } from 'node:path';
import { TsvirtError } from '../lib/errors.js';
import type { Domain } from '../domain/model.js';
import { parseDomainXml } from '../domain/xml/parse.js';
import { renderDomainXml } from '../domain/xml/render.js';
import { checkDomainName } from './state-paths.js';

export interface StoredDomain {
  domain: Domain;
  xml: string;
  path: string;
}

const normUuid = (u: string) => u.toLowerCase().replace(/-/g, '');

export class DefinitionStore {
  constructor(readonly dir: string) {}

  private file(name: string): string {
    return join(this.dir, `${name}.xml`);
  }

  private autostartLink(name: string): string {
    return join(this.dir, 'autostart', `${name}.xml`);
  }

  names(): string[] {
    let entries: string[];
    try {
      entries = fs.readdirSync(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return entries.filter((f) => f.endsWith('.xml')).map((f) => f.slice(0, -4)).filter((n) => {
      try {
        checkDomainName(n);
        return true;
      } catch {
        return false;
      }
    }).sort();
  }

  has(name: string): boolean {
    return fs.existsSync(this.file(name));
  }

  /** The stored definition; a TsvirtError when there is none (virsh: "failed to get domain"). */
  load(name: string): StoredDomain {
    checkDomainName(name);
    const path = this.file(name);
    let xml: string;
    try {
      xml = fs.readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(name);
      throw err;
    }
    return { domain: parseDomainXml(xml), xml, path };
  }

  /**
   * Stores `domain` (replacing a definition of the same name and UUID). A different domain
   * already using the name or the UUID is refused, as libvirt refuses it.
   */
  save(domain: Domain): { path: string; replaced: boolean } {
    checkDomainName(domain.name);
    for (const other of this.names()) {
      let stored: Domain;
      try {
        stored = this.load(other).domain;
      } catch {
        continue; // an unreadable definition cannot clash; list/dumpxml name its problem
      }
      const sameUuid = normUuid(stored.uuid) === normUuid(domain.uuid);
      if (other === domain.name && !sameUuid) {
        throw new TsvirtError(`domain '${domain.name}' already exists with uuid ${stored.uuid}`, 'undefine it first or use the same <uuid>');
      }
      if (other !== domain.name && sameUuid) {
        throw new TsvirtError(`domain '${other}' is already defined with uuid ${stored.uuid}`, 'use another <uuid> or undefine that domain');
      }
    }
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = this.file(domain.name);
    const replaced = fs.existsSync(path);
    const tmp = `${path}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, renderDomainXml(domain), { mode: 0o600 });
    fs.renameSync(tmp, path);
    return { path, replaced };
  }

  remove(name: string): void {
    checkDomainName(name);
    if (!this.has(name)) throw notFound(name);
    fs.rmSync(this.autostartLink(name), { force: true });
    fs.rmSync(this.file(name));
  }

  autostart(name: string): boolean {
    return fs.lstatSync(this.autostartLink(name), { throwIfNoEntry: false }) !== undefined;
  }

  setAutostart(name: string, enabled: boolean): void {
    checkDomainName(name);
    if (!this.has(name)) throw notFound(name);
    const link = this.autostartLink(name);
    if (!enabled) {
      fs.rmSync(link, { force: true });
      return;
    }
    fs.mkdirSync(join(this.dir, 'autostart'), { recursive: true, mode: 0o700 });
    fs.rmSync(link, { force: true });
    fs.symlinkSync(join('..', `${name}.xml`), link);
  }

  autostartNames(): string[] {
    return this.names().filter((n) => this.autostart(n));
  }
}

export function notFound(name: string): TsvirtError {
  return new TsvirtError(`failed to get domain '${name}'`, "no domain with that name is defined or running (see 'tsvirt list --all')");
}
