import { parentPort, workerData } from 'node:worker_threads';
import { DEFAULT_METHOD } from '../match/defaults.js';
import { annVectors, descriptorLength, tileDescriptors } from '../match/method.js';
import { addToAnn, createAnn } from './ann.js';

/** What the worker of an `AnnBuilder` is started with. */
export interface AnnWorkerData {
  /** Stored features per tile. */
  featureDimensions: number;
  /** Tiles expected; the index grows when more come. */
  capacity: number;
}

/** Messages to the worker: tiles' stored features to add (in id order), or the file to write the index to. */
export type AnnWorkerMessage = { features: Float32Array; tiles: number } | { write: string };

/** The worker's answer to `write`: how many tiles the written index holds. */
export interface AnnWorkerReply {
  written: number;
}

const { featureDimensions, capacity } = workerData as AnnWorkerData;
const length = descriptorLength(DEFAULT_METHOD);
const ann = createAnn(length, capacity);
let count = 0;

parentPort!.on('message', (message: AnnWorkerMessage) => {
  if ('features' in message) {
    const { features, tiles } = message;
    if (count + tiles > ann.getMaxElements()) ann.resizeIndex(Math.max(2 * ann.getMaxElements(), count + tiles));
    addToAnn(ann, annVectors(tileDescriptors(features.subarray(0, tiles * featureDimensions), tiles, DEFAULT_METHOD), DEFAULT_METHOD), length, count);
    count += tiles;
  } else {
    // Sized to what was added: the same file as `buildAnn` over these tiles writes.
    if (ann.getMaxElements() !== Math.max(1, count)) ann.resizeIndex(Math.max(1, count));
    ann.writeIndexSync(message.write);
    parentPort!.postMessage({ written: count } satisfies AnnWorkerReply);
  }
});
