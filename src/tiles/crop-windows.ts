import type { CropCount } from './features.js';

/** Edge of the corner crops as a share of the picture's short side. */
export const CORNER_CROP = 0.7;
/** Longest side that corner crops are taken from, in short sides: a panorama's corners lie in its centre part of this length. */
const MAX_ASPECT = 4;

/**
 * Squares cut from a `width` x `height` picture, as [left, top, side]: first the centre square of
 * the short side (the classic tile), then (crops 5) squares of CORNER_CROP of the short side in
 * the corners of the picture's centre part of at most MAX_ASPECT short sides (the four corners of
 * the whole picture, unless it is a panorama), which often differ in colour and layout from the centre.
 */
export function cropWindows(width: number, height: number, crops: CropCount): [number, number, number][] {
  const short = Math.min(width, height);
  const windows: [number, number, number][] = [[Math.floor((width - short) / 2), Math.floor((height - short) / 2), short]];
  if (crops === 1) return windows;
  const keptWidth = Math.min(width, MAX_ASPECT * short);
  const keptHeight = Math.min(height, MAX_ASPECT * short);
  const left = Math.floor((width - keptWidth) / 2);
  const top = Math.floor((height - keptHeight) / 2);
  const side = Math.max(1, Math.round(short * CORNER_CROP));
  const right = left + keptWidth - side;
  const bottom = top + keptHeight - side;
  for (const [x, y] of [
    [left, top],
    [right, top],
    [left, bottom],
    [right, bottom],
  ] as const)
    windows.push([x, y, side]);
  return windows;
}
