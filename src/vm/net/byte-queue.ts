// A FIFO of bytes kept as the chunks they arrived in: TCP's send buffer (bytes from the host
// socket not yet acknowledged by the guest). Reads at an offset serve retransmissions;
// `consume` drops what the guest acknowledged.

export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private headOffset = 0;
  private total = 0;

  get length(): number {
    return this.total;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  consume(n: number): void {
    let left = Math.min(n, this.total);
    this.total -= left;
    while (left > 0) {
      const head = this.chunks[0]!;
      const avail = head.length - this.headOffset;
      if (left < avail) {
        this.headOffset += left;
        return;
      }
      left -= avail;
      this.chunks.shift();
      this.headOffset = 0;
    }
  }

  /** `len` bytes starting `offset` bytes into the queue (a view when one chunk holds them). */
  read(offset: number, len: number): Uint8Array {
    if (offset < 0 || len < 0 || offset + len > this.total) throw new RangeError('read outside the queue');
    let skip = offset + this.headOffset;
    let i = 0;
    while (skip >= this.chunks[i]!.length) skip -= this.chunks[i++]!.length;
    const first = this.chunks[i]!;
    if (skip + len <= first.length) return first.subarray(skip, skip + len);
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const c = this.chunks[i++]!;
      const n = Math.min(c.length - skip, len - done);
      out.set(c.subarray(skip, skip + n), done);
      done += n;
      skip = 0;
    }
    return out;
  }
}
