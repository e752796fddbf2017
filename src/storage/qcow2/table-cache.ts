// A write-back LRU cache of cluster-sized metadata tables (L2 tables or refcount blocks),
// keyed by host offset, like QEMU's Qcow2Cache. Write-back is what makes crash safety a
// matter of ordering: a dirty table reaches the file only through flush() or eviction,
// and `beforeWriteback` runs first so the caller can write what the table depends on
// (refcount blocks before the L2 tables that point at newly allocated clusters).
// Leaves out: QEMU's cache-clean interval.
import type { ImageFile } from '../image-file.js';

interface Entry { buf: Buffer; dirty: boolean }

export class TableCache {
  private readonly entries = new Map<number, Entry>();
  private dirtyCount = 0;
  /** Most recently used key and entry: the common case skips the LRU bookkeeping. */
  private mruOffset = -1;
  private mru: Entry | undefined;

  constructor(
    private readonly file: ImageFile,
    private readonly tableBytes: number,
    private readonly capacity: number,
    /** Called before any dirty table of this cache is written. */
    private readonly beforeWriteback: () => void = () => {},
    /** Hostile-input check run on a table read from the file for the first time. */
    private readonly checkOnLoad: (offset: number) => void = () => {},
  ) {}

  get hasDirty(): boolean {
    return this.dirtyCount > 0;
  }

  /** The table at host offset `offset`, read from the file if not cached. */
  get(offset: number): Buffer {
    if (offset === this.mruOffset && this.mru) return this.mru.buf;
    const e = this.entries.get(offset);
    if (e) {
      this.mruOffset = offset;
      this.mru = e;
      // Map keeps insertion order: re-insert to mark most recently used.
      this.entries.delete(offset);
      this.entries.set(offset, e);
      return e.buf;
    }
    this.checkOnLoad(offset);
    const buf = Buffer.allocUnsafe(this.tableBytes);
    this.file.readAt(buf, offset);
    this.insert(offset, { buf, dirty: false });
    return buf;
  }

  /** Installs a table the caller has just created (already written, or marked dirty next). */
  install(offset: number, buf: Buffer, dirty: boolean): void {
    const old = this.entries.get(offset);
    if (old) {
      if (old.dirty) this.dirtyCount--;
      this.entries.delete(offset);
    }
    this.insert(offset, { buf, dirty });
    if (dirty) this.dirtyCount++;
  }

  markDirty(offset: number): void {
    const e = this.entries.get(offset);
    if (!e) throw new Error(`qcow2 table cache: marking uncached table ${offset} dirty`);
    if (!e.dirty) {
      e.dirty = true;
      this.dirtyCount++;
    }
  }

  /** Forgets a table (its cluster was freed); a dirty one is dropped unwritten. */
  drop(offset: number): void {
    this.mruOffset = -1;
    this.mru = undefined;
    const e = this.entries.get(offset);
    if (!e) return;
    if (e.dirty) this.dirtyCount--;
    this.entries.delete(offset);
  }

  /** Writes every dirty table; returns whether anything was written. */
  flush(): boolean {
    if (this.dirtyCount === 0) return false;
    this.beforeWriteback();
    const dirty = [...this.entries.entries()].filter(([, e]) => e.dirty).sort((a, b) => a[0] - b[0]);
    for (const [offset, e] of dirty) {
      this.file.writeAt(e.buf, offset);
      e.dirty = false;
      this.dirtyCount--;
    }
    return true;
  }

  clear(): void {
    this.mruOffset = -1;
    this.mru = undefined;
    this.entries.clear();
    this.dirtyCount = 0;
  }

  private insert(offset: number, e: Entry): void {
    this.mruOffset = -1;
    this.mru = undefined;
    while (this.entries.size >= this.capacity) {
      const [victimOffset, victim] = this.entries.entries().next().value as [number, Entry];
      if (victim.dirty) {
        this.beforeWriteback();
        this.file.writeAt(victim.buf, victimOffset);
        this.dirtyCount--;
      }
      this.entries.delete(victimOffset);
    }
    this.entries.set(offset, e);
  }
}
