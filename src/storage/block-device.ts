// The contract between storage and its users (ARCHITECTURE.md "Storage contracts"):
// virtio-blk, the ext4 reader and `tsvirt img convert` see only this. Synchronous,
// because the vCPU thread calls it; byte offsets at any alignment.

export interface BlockDevice {
  /** Virtual size in bytes (what the guest sees). */
  readonly size: number;
  readonly readOnly: boolean;
  /** Reads buf.length bytes at offset; ranges past `size` are an error. */
  read(offset: number, buf: Uint8Array): void;
  write(offset: number, buf: Uint8Array): void;
  flush(): void;
  /** Deallocates or zeroes [offset, offset+len); reads return zeros afterwards. */
  discard(offset: number, len: number): void;
  close(): void;
  /**
   * Optional (added for `img convert`): how [offset, offset+len) is stored, as runs that
   * cover the range in order. 'zero' runs are known to read as zeros (unallocated without
   * a backing file, or zero clusters); 'data' runs must be read. Devices that cannot tell
   * leave it out and everything counts as data.
   */
  blockStatus?(offset: number, len: number): BlockStatusRun[];
}

export interface BlockStatusRun {
  offset: number;
  len: number;
  kind: 'data' | 'zero';
}
