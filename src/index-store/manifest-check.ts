import { MAX_TILE_SIZE } from '../options/options.js';
import { quote } from '../text.js';
import { FEATURE_DIMENSIONS, STORED_GRID } from '../tiles/features.js';
import { annShardCount, INDEX_FORMAT, READ_VERSIONS, MAX_ROOTS, maxAnnShards, type Checkpoint, type IndexManifest } from './format.js';

/**
 * A manifest.json or checkpoint.json that does not describe a usable index: `reason` names the
 * field and what is wrong with it, e.g. `tiles[3].root is -1, expected an integer from 0 to 0`.
 * `kind` tells an index of another version, or not an index at all, from a damaged one.
 */
export class ManifestProblem extends Error {
  constructor(
    readonly kind: 'not-an-index' | 'version' | 'damaged',
    reason: string,
  ) {
    super(reason);
    this.name = 'ManifestProblem';
  }
}

/** Most pictures an index may hold: tile ids (pictures x crops) must fit 31 bits. */
const MAX_PICTURES = 2 ** 31 / 5;
/** Longest string accepted in a manifest (paths, dates, fingerprints). */
const MAX_TEXT = 4096;

/**
 * Checks every field `build`, `info` and `merge` use, in type and range, and returns the value as
 * a manifest. Unknown extra fields are ignored.
 * @throws {ManifestProblem}
 */
export function checkManifest(value: unknown): IndexManifest {
  const manifest = object(value, 'the manifest');
  if (manifest.format !== INDEX_FORMAT) throw new ManifestProblem('not-an-index', `manifest.json has no "format": "${INDEX_FORMAT}"`);
  if (!READ_VERSIONS.includes(manifest.version as number)) {
    const version = typeof manifest.version === 'number' ? String(manifest.version) : describe(manifest.version);
    throw new ManifestProblem('version', `index format version ${version}, this tsmosaic reads versions ${READ_VERSIONS.join(' and ')}`);
  }
  text(manifest.createdAt, 'createdAt');
  text(manifest.collection, 'collection');
  let roots = 1;
  if (manifest.roots !== undefined) {
    const list = array(manifest.roots, 'roots', 1, MAX_ROOTS);
    list.forEach((root, i) => text(root, `roots[${i}]`));
    roots = list.length;
  }
  if (manifest.version === 3) {
    // Square tiles of tileSize, read as a tile of that width and height.
    manifest.tileWidth = manifest.tileHeight = integer(manifest.tileSize, 'tileSize', 1, MAX_TILE_SIZE);
    delete manifest.tileSize;
  } else {
    integer(manifest.tileWidth, 'tileWidth', 1, MAX_TILE_SIZE);
    integer(manifest.tileHeight, 'tileHeight', 1, MAX_TILE_SIZE);
  }
  const tileCount = integer(manifest.tileCount, 'tileCount', 1, MAX_PICTURES);
  oneOf(manifest.fit, 'fit', ['crop', 'stretch']);
  const crops = oneOf(manifest.crops, 'crops', [1, 5]);
  const features = object(manifest.features, 'features');
  oneOf(features.kind, 'features.kind', ['srgb-grid']);
  oneOf(features.grid, 'features.grid', [STORED_GRID]);
  oneOf(features.dimensions, 'features.dimensions', [FEATURE_DIMENSIONS['srgb-grid']]);
  const ann = object(manifest.ann, 'ann');
  oneOf(ann.distance, 'ann.distance', ['l2']);
  integer(ann.m, 'ann.m', 2, 256);
  integer(ann.efConstruction, 'ann.efConstruction', 1, 65_536);
  const method = object(ann.method, 'ann.method');
  oneOf(method.metric, 'ann.method.metric', ['lab', 'rgb']);
  oneOf(method.grid, 'ann.method.grid', [1, 2, 4]);
  number(method.structureWeight, 'ann.method.structureWeight', 0, 100);
  oneOf(method.mirror, 'ann.method.mirror', [true, false]);
  const shardTiles = ann.shardTiles === undefined ? undefined : integer(ann.shardTiles, 'ann.shardTiles', 1, 2 ** 31);
  const shards = annShardCount(tileCount * crops, shardTiles);
  if (shards > maxAnnShards(tileCount * crops)) {
    throw damaged(
      `ann.shardTiles is ${shardTiles}: ${shards} HNSW shards for ${tileCount * crops} tiles, expected at most ${maxAnnShards(tileCount * crops)}`,
    );
  }
  if (ann.shardLightness !== undefined) {
    if (shardTiles === undefined) throw damaged('ann.shardLightness is given without ann.shardTiles');
    const ranges = array(ann.shardLightness, 'ann.shardLightness', shards, shards);
    ranges.forEach((range, i) => {
      const [low, high] = array(range, `ann.shardLightness[${i}]`, 2, 2);
      number(low, `ann.shardLightness[${i}][0]`, -Number.MAX_VALUE, Number.MAX_VALUE);
      number(high, `ann.shardLightness[${i}][1]`, -Number.MAX_VALUE, Number.MAX_VALUE);
    });
  }
  const tiles = array(manifest.tiles, 'tiles', tileCount, tileCount);
  for (let i = 0; i < tiles.length; i++) {
    const tile = object(tiles[i], `tiles[${i}]`);
    text(tile.source, `tiles[${i}].source`);
    integer(tile.size, `tiles[${i}].size`, 0, Number.MAX_SAFE_INTEGER);
    number(tile.mtimeMs, `tiles[${i}].mtimeMs`, -Number.MAX_VALUE, Number.MAX_VALUE);
    if (tile.root !== undefined) integer(tile.root, `tiles[${i}].root`, 0, roots - 1);
    if (tile.fingerprint !== undefined) text(tile.fingerprint, `tiles[${i}].fingerprint`);
  }
  return value as IndexManifest;
}

/**
 * Checks a checkpoint.json of an interrupted run (see Checkpoint).
 * @throws {ManifestProblem}
 */
export function checkCheckpoint(value: unknown): Checkpoint {
  const checkpoint = object(value, 'the checkpoint');
  oneOf(checkpoint.format, 'format', ['tsmosaic-checkpoint']);
  oneOf(checkpoint.suspended, 'suspended', [true, false]);
  text(checkpoint.target, 'target');
  array(checkpoint.roots, 'roots', 1, MAX_ROOTS).forEach((root, i) => text(root, `roots[${i}]`));
  integer(checkpoint.tileWidth, 'tileWidth', 1, MAX_TILE_SIZE);
  integer(checkpoint.tileHeight, 'tileHeight', 1, MAX_TILE_SIZE);
  oneOf(checkpoint.fit, 'fit', ['crop', 'stretch']);
  oneOf(checkpoint.crops, 'crops', [1, 5]);
  const features = object(checkpoint.features, 'features');
  oneOf(features.kind, 'features.kind', ['srgb-grid']);
  oneOf(features.dimensions, 'features.dimensions', [FEATURE_DIMENSIONS['srgb-grid']]);
  integer(checkpoint.tileCount, 'tileCount', 0, MAX_PICTURES);
  return value as Checkpoint;
}

function damaged(reason: string): ManifestProblem {
  return new ManifestProblem('damaged', reason);
}

/** A value as a message shows it: strings quoted and escaped, long ones cut. */
function describe(value: unknown): string {
  if (typeof value === 'string') return quote(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return Array.isArray(value) ? 'an array' : `an ${typeof value}`;
}

function object(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw damaged(`${at} is ${describe(value)}, expected an object`);
  return value as Record<string, unknown>;
}

function array(value: unknown, at: string, min: number, max: number): unknown[] {
  if (!Array.isArray(value)) throw damaged(`${at} is ${describe(value)}, expected a list`);
  if (value.length < min || value.length > max) {
    throw damaged(`${at} has ${value.length} entries, expected ${min === max ? min : `${min} to ${max}`}`);
  }
  return value;
}

function text(value: unknown, at: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TEXT) {
    throw damaged(`${at} is ${describe(value)}, expected a string of 1 to ${MAX_TEXT} characters`);
  }
  return value;
}

function integer(value: unknown, at: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw damaged(`${at} is ${describe(value)}, expected an integer from ${min} to ${max}`);
  }
  return value;
}

function number(value: unknown, at: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw damaged(`${at} is ${describe(value)}, expected a number${min === -Number.MAX_VALUE ? '' : ` from ${min} to ${max}`}`);
  }
  return value;
}

function oneOf<T>(value: unknown, at: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw damaged(
      `${at} is ${describe(value)}, expected ${allowed.length === 1 ? describe(allowed[0]) : `one of ${allowed.map(describe).join(', ')}`}`,
    );
  }
  return value as T;
}
