import path from 'node:path';
import type { Region } from './render-region.js';

/**
 * Edge of a Deep Zoom tile without its overlap, and the overlap on each inner side: none, so that
 * the pyramid can be written in column stripes (see writeStripedPyramid).
 */
export const DEEP_ZOOM_TILE_SIZE = 254;
export const DEEP_ZOOM_OVERLAP = 0;
/** JPEG quality of Deep Zoom tiles. */
export const DEEP_ZOOM_JPEG_QUALITY = 85;

/** One level of a Deep Zoom pyramid: level 0 is 1x1 px, the last one the full image. */
export interface DeepZoomLevel {
  level: number;
  width: number;
  height: number;
  columns: number;
  rows: number;
}

/** The geometry of a Deep Zoom pyramid. */
export interface DeepZoomLayout {
  width: number;
  height: number;
  tileSize: number;
  overlap: number;
  /** The tiles' file extension: libvips names Deep Zoom JPEG tiles `.jpeg`. */
  format: 'jpeg';
  levels: DeepZoomLevel[];
}

/** Every level of the Deep Zoom pyramid of a `width` x `height` image, smallest first. */
export function deepZoomLayout(width: number, height: number, tileSize = DEEP_ZOOM_TILE_SIZE, overlap = DEEP_ZOOM_OVERLAP): DeepZoomLayout {
  const maxLevel = Math.ceil(Math.log2(Math.max(width, height)));
  const levels: DeepZoomLevel[] = [];
  for (let level = 0; level <= maxLevel; level++) {
    const scale = 2 ** (maxLevel - level);
    const levelWidth = Math.ceil(width / scale);
    const levelHeight = Math.ceil(height / scale);
    levels.push({
      level,
      width: levelWidth,
      height: levelHeight,
      columns: Math.ceil(levelWidth / tileSize),
      rows: Math.ceil(levelHeight / tileSize),
    });
  }
  return { width, height, tileSize, overlap, format: 'jpeg', levels };
}

/** The pixels of tile (`column`, `row`) of `level`: its square plus the overlap on inner sides. */
export function tileRegion(layout: DeepZoomLayout, level: DeepZoomLevel, column: number, row: number): Region {
  const { tileSize, overlap } = layout;
  const left = Math.max(0, column * tileSize - overlap);
  const top = Math.max(0, row * tileSize - overlap);
  const right = Math.min(level.width, (column + 1) * tileSize + overlap);
  const bottom = Math.min(level.height, (row + 1) * tileSize + overlap);
  return { left, top, width: right - left, height: bottom - top };
}

/** The `.dzi` descriptor (XML) of a pyramid. */
export function dziDescriptor(layout: DeepZoomLayout): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" Format="${layout.format}" Overlap="${layout.overlap}" TileSize="${layout.tileSize}">`,
    `  <Size Width="${layout.width}" Height="${layout.height}"/>`,
    '</Image>',
    '',
  ].join('\n');
}

/** `<folder>/<name>_files`, the tile folder of the descriptor `<folder>/<name>.dzi`. */
export function tilesFolderOf(file: string): string {
  return path.join(path.dirname(file), `${path.basename(file, path.extname(file))}_files`);
}
