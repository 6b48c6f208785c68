/**
 * Part indexes of a generated library, written by the same IndexWriter as process-collection (real
 * tiles.rgb, features.f32, HNSW shards and manifests), without decoding a picture: for timing
 * `merge` on hundreds of thousands of pictures. Run alone: `tsx test/bench/generated-parts.ts
 * <folder> <parts> <pictures> [first part] [last part]` writes part-<i> folders.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { IndexWriter } from '../../src/index-store/write-index.js';
import { seededRandom } from '../../src/match/random.js';
import { FEATURE_DIMENSIONS } from '../../src/tiles/features.js';

const GENERATED_ROOT = '/library';
/** The tile size and crops of every generated picture. */
export const GENERATED_TILE = { width: 20, height: 20 } as const;
export const GENERATED_CROPS = 5;
const FEATURES = FEATURE_DIMENSIONS['srgb-grid'];

/** Pictures of part `part` when `pictures` are split in `parts` as evenly as whole numbers allow. */
function picturesOfPart(pictures: number, parts: number, part: number): { first: number; count: number } {
  const first = Math.floor((part * pictures) / parts);
  return { first, count: Math.floor(((part + 1) * pictures) / parts) - first };
}

/**
 * Writes part `part` of a library of `pictures` pictures split in `parts` into `folder`: picture
 * `i` is always the same (pixels, features and source drawn from `i` alone), so a library split in
 * 16 or in 64 holds the same pictures.
 */
export async function writeGeneratedPart(folder: string, pictures: number, parts: number, part: number): Promise<number> {
  const { first, count } = picturesOfPart(pictures, parts, part);
  await mkdir(path.dirname(folder), { recursive: true });
  const writer = await IndexWriter.create(folder, {
    roots: [GENERATED_ROOT],
    tileShape: GENERATED_TILE,
    fit: 'crop',
    featureKind: 'srgb-grid',
    featureDimensions: FEATURES,
    crops: GENERATED_CROPS,
    expectedTiles: count * GENERATED_CROPS,
  });
  const pixels = new Uint8Array(GENERATED_TILE.width * GENERATED_TILE.height * 3 * GENERATED_CROPS);
  const words = new Uint32Array(pixels.buffer);
  const features = new Float32Array(FEATURES * GENERATED_CROPS);
  try {
    for (let picture = first; picture < first + count; picture++) {
      const random = seededRandom(picture + 1);
      for (let i = 0; i < words.length; i++) words[i] = (random() * 2 ** 32) >>> 0;
      // A base colour per picture and noise per crop and square: shards by lightness as in a real library.
      const base = [random() * 255, random() * 255, random() * 255];
      for (let i = 0; i < features.length; i++) features[i] = Math.min(255, Math.max(0, base[i % 3]! + (random() - 0.5) * 60));
      const name = `batch-${String(picture % 1000).padStart(3, '0')}/img-${String(picture).padStart(7, '0')}.jpg`;
      const fingerprint = createHash('sha1').update(name).digest('base64url');
      await writer.addTile(pixels, features, {
        source: name,
        size: 20_000 + (picture % 50_000),
        mtimeMs: 1_764_000_000_000 + picture,
        fingerprint,
      });
    }
    await writer.commit();
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return count;
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const [folder, parts, pictures, from, to] = process.argv.slice(2);
  const partCount = Number(parts);
  for (let part = Number(from ?? 0); part <= Number(to ?? partCount - 1); part++) {
    await writeGeneratedPart(path.join(folder!, `part-${part}`), Number(pictures), partCount, part);
  }
}
