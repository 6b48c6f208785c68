import type { Worker } from 'node:worker_threads';
import { startWorker } from '../start-worker.js';
import type { AnnWorkerData, AnnWorkerMessage, AnnWorkerReply } from './ann-worker.js';

/**
 * Builds the HNSW index of the default method in a worker thread while tiles are still being
 * decoded: on the main thread, the insertions held up the decoders' callbacks, and after the last
 * image they took ~0.5 s per 10,000 tiles on one core while the other idled. Tiles are added in id
 * order, so the graph is the one `buildAnn` makes.
 */
export class AnnBuilder {
  private readonly worker: Worker;
  private failure: Error | undefined;
  private reply: ((reply: AnnWorkerReply) => void) | undefined;
  private tiles = 0;

  /** `capacity`: tiles expected (more may come); `featureDimensions`: stored features per tile. */
  constructor(featureDimensions: number, capacity: number) {
    this.worker = startWorker(import.meta.url, 'ann-worker', { featureDimensions, capacity } satisfies AnnWorkerData);
    this.worker.on('message', (reply: AnnWorkerReply) => this.reply?.(reply));
    this.worker.on('error', (error) => {
      this.failure ??= error;
    });
    // Until asked for the index, the worker must not keep the process alive on its own.
    this.worker.unref();
  }

  /** Tiles sent so far. */
  get count(): number {
    return this.tiles;
  }

  /** Adds the next `tiles` tiles; `features` is handed over to the worker (no longer usable here). */
  add(features: Float32Array, tiles: number): void {
    this.tiles += tiles;
    this.worker.postMessage({ features, tiles } satisfies AnnWorkerMessage, [features.buffer as ArrayBuffer]);
  }

  /** Waits for every tile sent to be added, writes the index to `file` and stops the worker. */
  async write(file: string): Promise<void> {
    this.worker.ref();
    try {
      const written = await new Promise<number>((resolve, reject) => {
        if (this.failure) return reject(this.failure);
        this.reply = ({ written }) => resolve(written);
        this.worker.once('error', reject);
        this.worker.once('exit', (code) => reject(new Error(`the index worker stopped (exit code ${code})`)));
        this.worker.postMessage({ write: file } satisfies AnnWorkerMessage);
      });
      if (written !== this.tiles) throw new Error(`the index worker added ${written} tiles of ${this.tiles}`);
    } finally {
      await this.close();
    }
  }

  /** Stops the worker; what it built is dropped. */
  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
