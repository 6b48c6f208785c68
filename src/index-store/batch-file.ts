import { closeSync, fsync, openSync, writeSync } from 'node:fs';

/** Bytes of tile pixels and features collected before they are written: one write per file per batch, not per tile. */
export const WRITE_BATCH_BYTES = 64 * 1024;

/**
 * A file written from the start in batches: appended bytes are copied into one buffer, kept for
 * the whole run, and written by `flush` with blocking calls.
 */
export class BatchFile {
  private descriptor: number | undefined;
  private buffer = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
  /** Bytes appended and not yet written. */
  batched = 0;

  constructor(file: string) {
    this.descriptor = openSync(file, 'w');
  }

  append(bytes: Uint8Array): void {
    this.reserve(bytes.length).set(bytes);
    this.batched += bytes.length;
  }

  /** Appends `values` as 32-bit little-endian floats. */
  appendFloats(values: ArrayLike<number>): void {
    const space = this.reserve(values.length * 4);
    for (let i = 0; i < values.length; i++) space.writeFloatLE(values[i]!, i * 4);
    this.batched += values.length * 4;
  }

  appendText(text: string): void {
    this.batched += this.reserve(Buffer.byteLength(text)).write(text);
  }

  /** Writes every byte appended so far. */
  flush(): void {
    if (this.batched === 0) return;
    if (this.descriptor === undefined) throw new Error('file already closed');
    for (let written = 0; written < this.batched;) written += writeSync(this.descriptor, this.buffer, written, this.batched - written);
    this.batched = 0;
  }

  /** Makes the bytes written so far durable (fsync), so a checkpoint may count them. */
  sync(): Promise<void> {
    const descriptor = this.descriptor;
    if (descriptor === undefined) return Promise.reject(new Error('file already closed'));
    return new Promise((resolve, reject) => fsync(descriptor, (error) => (error ? reject(error) : resolve())));
  }

  /** Closes the file (bytes not flushed are dropped); closing twice does nothing. */
  close(): void {
    if (this.descriptor !== undefined) closeSync(this.descriptor);
    this.descriptor = undefined;
  }

  /** The next `length` bytes of the buffer, grown when they do not fit. */
  private reserve(length: number): Buffer {
    if (this.batched + length > this.buffer.length) {
      const larger = Buffer.allocUnsafe(Math.max(2 * this.buffer.length, this.batched + length));
      this.buffer.copy(larger, 0, 0, this.batched);
      this.buffer = larger;
    }
    return this.buffer.subarray(this.batched, this.batched + length);
  }
}
