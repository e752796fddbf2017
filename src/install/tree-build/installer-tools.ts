// Copies a dynamically linked tool (mke2fs for ext3/ext4) out of a root file system into the
// installer initramfs together with everything it loads: its program interpreter and the
// closure of its DT_NEEDED libraries (elf-dynamic.ts), each placed in the library
// directory it was found in, which is one the interpreter from the same root searches by
// default. A root is the host's / or a directory of Debian packages unpacked with
// `dpkg-deb -x`; symbolic links are followed inside that root, never out of it, so an
// absolute link such as /lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/... resolves
// within the root the user named. Leaves out: dlopen()ed plugins (mke2fs uses none).
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import { TsvirtError } from '../../lib/errors.js';
import type { CpioEntry } from '../cpio-newc.js';
import { readElfDynamic } from './elf-dynamic.js';

const TOOL_DIRS = ['usr/sbin', 'sbin', 'usr/bin', 'bin'];
/** glibc's default search directories on Debian (multiarch) and on lib64 systems. */
const LIBRARY_DIRS = ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu', 'lib64', 'usr/lib64', 'lib', 'usr/lib'];
const MAX_LINK_HOPS = 40;
const MAX_FILE_BYTES = 64 * 1024 * 1024;

export interface CollectedTool {
  /** Where the tool was found on the host. */
  readonly source: string;
  /** The tool, its interpreter and libraries, at their initramfs paths (no directories). */
  readonly files: CpioEntry[];
}

/**
 * The host path of the regular file at root-relative `rel`, following symbolic links within
 * `root` (an absolute target restarts at `root`; `..` stops at it); undefined when absent.
 */
export function resolveInRoot(root: string, rel: string): string | undefined {
  let hops = 0;
  let done: string[] = [];
  let todo = rel.split('/').filter((p) => p !== '' && p !== '.');
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const here = join(root, ...done, part);
    const st = lstatSync(here, { throwIfNoEntry: false });
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      if (++hops > MAX_LINK_HOPS) return undefined;
      const target = readlinkSync(here);
      if (target.startsWith('/')) done = [];
      todo = [...target.split('/').filter((p) => p !== '' && p !== '.'), ...todo];
      continue;
    }
    if (todo.length > 0 && !st.isDirectory()) return undefined;
    done.push(part);
  }
  const path = join(root, ...done);
  const st = lstatSync(path, { throwIfNoEntry: false });
  return st?.isFile() ? path : undefined;
}

function readTool(path: string): Uint8Array {
  const size = lstatSync(path).size;
  if (size > MAX_FILE_BYTES) throw new TsvirtError(`${path} is larger than ${MAX_FILE_BYTES} bytes; it is not a tool or library tsvirt copies`);
  return readFileSync(path);
}

/**
 * Finds `name` in the first of `roots` that has it and returns it (installed as
 * `installAs`, e.g. usr/sbin/mke2fs) with its interpreter and libraries; undefined when no
 * root has the tool. A library no root has is an error naming it.
 */
export function collectTool(name: string, installAs: string, roots: readonly string[]): CollectedTool | undefined {
  let found: { root: string; path: string } | undefined;
  for (const root of roots) {
    for (const dir of TOOL_DIRS) {
      const path = resolveInRoot(root, `${dir}/${name}`);
      if (path) {
        found = { root, path };
        break;
      }
    }
    if (found) break;
  }
  if (!found) return undefined;
  const files = new Map<string, CpioEntry>();
  const toolBytes = readTool(found.path);
  files.set(installAs, { path: installAs, type: 'file', mode: 0o755, data: toolBytes });
  const tool = readElfDynamic(toolBytes, found.path);
  if (tool.interpreter) {
    const rel = posix.normalize(tool.interpreter).replace(/^\/+/, '');
    const path = resolveInRoot(found.root, rel);
    if (!path) throw new TsvirtError(`${found.path} needs the program interpreter ${tool.interpreter}, which ${found.root} does not have`);
    files.set(rel, { path: rel, type: 'file', mode: 0o755, data: readTool(path) });
  }
  const queue = [...tool.needed.map((soname) => ({ soname, by: found!.path }))];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const { soname, by } = queue.shift()!;
    if (seen.has(soname)) continue;
    seen.add(soname);
    if (soname.includes('/')) throw new TsvirtError(`${by} names the library ${soname} by path; tsvirt copies libraries found by name only`);
    let lib: { rel: string; path: string } | undefined;
    for (const dir of LIBRARY_DIRS) {
      const path = resolveInRoot(found.root, `${dir}/${soname}`);
      if (path) {
        lib = { rel: `${dir}/${soname}`, path };
        break;
      }
    }
    if (!lib) throw new TsvirtError(`${by} needs the library ${soname}, which ${found.root} does not have (looked in ${LIBRARY_DIRS.join(', ')})`);
    const bytes = readTool(lib.path);
    files.set(lib.rel, { path: lib.rel, type: 'file', mode: 0o755, data: bytes });
    for (const next of readElfDynamic(bytes, lib.path).needed) queue.push({ soname: next, by: lib.path });
  }
  return { source: found.path, files: [...files.values()] };
}
