import { loadSharp } from '../load-sharp.js';

/** JPEG quality of Deep Zoom tiles. */
export const JPEG_QUALITY = 85;

/** JPEG-encodes tiles with sharp, a bounded number at once, so that the cores stay busy. */
export class TileEncoder {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(private readonly limit: number) {}

  /**
   * Starts encoding a tile of raw RGB pixels to `file` as soon as fewer than `limit` are being
   * encoded; resolves once started, with `written`, which settles when the file is complete.
   * @throws the first encoding error of any earlier tile.
   */
  async start(pixels: Buffer, width: number, height: number, file: string): Promise<{ written: Promise<void> }> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    if (this.failure) throw this.failure.error;
    const sharp = await loadSharp();
    const written = sharp(pixels, { raw: { width, height, channels: 3 } })
      // Huffman optimisation: 3.5 % smaller tiles for ~25 % more encoding time; not worth it for tens of thousands of them.
      .jpeg({ quality: JPEG_QUALITY, optimiseCoding: false })
      .toFile(file)
      .then(() => undefined);
    const settled: Promise<void> = written.then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= { error };
      },
    );
    this.running.add(settled);
    void settled.finally(() => this.running.delete(settled));
    return { written };
  }

  /** Waits for every tile; throws the first encoding error. */
  async drain(): Promise<void> {
    await this.settle();
    if (this.failure) throw this.failure.error;
  }

  /** Waits for the tiles being encoded, ignoring errors (before cleaning up). */
  async settle(): Promise<void> {
    await Promise.all(this.running);
  }
}
