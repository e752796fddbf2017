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
   * Optional (for `img convert`, like QEMU's bdrv_block_status): how the bytes from
   * `offset` on are stored, as one run that starts at `offset` and covers at most `len`
   * bytes (at least 1 when len > 0); the caller asks again where it ends. 'zero' runs are
   * known to read as zeros (holes, unallocated clusters without a backing file, zero
   * clusters); 'data' runs must be read. One run per call keeps the answer small however
   * fragmented the image, and lets a device skip a large unallocated range in one step.
   * Devices that cannot tell leave it out and everything counts as data.
   */
  blockStatus?(offset: number, len: number): BlockStatusRun;
}

export interface BlockStatusRun {
  offset: number;
  len: number;
  kind: 'data' | 'zero';
}
