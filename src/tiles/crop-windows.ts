import type { CropCount, TileShape } from './features.js';

/** Edge of the corner crops as a share of the centre window's. */
export const CORNER_CROP = 0.7;
/** How far corner crops reach, in centre windows: a panorama's corners lie in its centre part of this length. */
const MAX_ASPECT = 4;

/** A window of a picture, in its pixels. */
export interface CropWindow {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The windows of a `width` x `height` picture that become its tiles of `shape`: first the largest
 * window of the tile's aspect ratio around the centre (the classic tile), then (crops 5) windows of
 * CORNER_CROP of its size in the corners of the picture's centre part of at most MAX_ASPECT centre
 * windows (the picture's own corners, unless it is a panorama), which often differ in colour and
 * layout from the centre. For square tiles the centre window is the square of the short side.
 */
export function cropWindows(width: number, height: number, crops: CropCount, shape: TileShape = { width: 1, height: 1 }): CropWindow[] {
  const aspect = shape.width / shape.height;
  const centreWidth = Math.max(1, Math.min(width, Math.round(height * aspect)));
  const centreHeight = Math.max(1, Math.min(height, Math.round(width / aspect)));
  const windows: CropWindow[] = [
    { left: Math.floor((width - centreWidth) / 2), top: Math.floor((height - centreHeight) / 2), width: centreWidth, height: centreHeight },
  ];
  if (crops === 1) return windows;
  const keptWidth = Math.min(width, MAX_ASPECT * centreWidth);
  const keptHeight = Math.min(height, MAX_ASPECT * centreHeight);
  const left = Math.floor((width - keptWidth) / 2);
  const top = Math.floor((height - keptHeight) / 2);
  const cornerWidth = Math.max(1, Math.round(centreWidth * CORNER_CROP));
  const cornerHeight = Math.max(1, Math.round(centreHeight * CORNER_CROP));
  const right = left + keptWidth - cornerWidth;
  const bottom = top + keptHeight - cornerHeight;
  for (const [x, y] of [
    [left, top],
    [right, top],
    [left, bottom],
    [right, bottom],
  ] as const) {
    windows.push({ left: x, top: y, width: cornerWidth, height: cornerHeight });
  }
  return windows;
}
