import { writeThroughTemporary } from '../files/publish.js';
import { writePng } from '../render/write-png.js';

/**
 * Top of the heat map's colour scale, in CIEDE2000: cells past it share its colour. Fixed rather
 * than fitted to each mosaic, so that two heat maps of one target compare at a glance.
 */
export const HEATMAP_SCALE_MAX = 30;
/**
 * Ticks under the colour bar, the last one read "30+". The scale runs by the square root of the
 * error: about 2 is seen side by side and 10 is a plainly different colour, so a good collection's
 * map (most cells under 5) and a poor one's (most over 10) both spread over the colours.
 */
const TICKS = [0, 1, 2, 5, 10, 20, 30];
/** Cells are scaled up to blocks until the map's longer side reaches about this many pixels. */
const HEATMAP_EDGE = 1000;

/**
 * Viridis (matplotlib's default scale): perceptually even, and its lightness rises with the error,
 * so the map reads in grey too. Stops at every eighth of the scale, interpolated linearly.
 */
const VIRIDIS = [
  [68, 1, 84],
  [71, 45, 123],
  [59, 82, 139],
  [44, 114, 142],
  [33, 145, 140],
  [40, 174, 128],
  [94, 201, 98],
  [173, 220, 48],
  [253, 231, 37],
];

/** The 256 colours of the scale, level 0 (no error) to 255 (HEATMAP_SCALE_MAX or more), RGB. */
const PALETTE = (() => {
  const palette = Buffer.alloc(256 * 3);
  for (let level = 0; level < 256; level++) {
    const at = (level / 255) * (VIRIDIS.length - 1);
    const low = Math.min(VIRIDIS.length - 2, Math.floor(at));
    const weight = at - low;
    for (let c = 0; c < 3; c++) palette[level * 3 + c] = Math.round(VIRIDIS[low]![c]! * (1 - weight) + VIRIDIS[low + 1]![c]! * weight);
  }
  return palette;
})();

/**
 * Each cell's CIEDE2000 as a level of the colour scale: one byte a cell, as the plan's own
 * arrays, so that the heat map of any grid is written band by band in flat memory.
 */
export class ErrorMap {
  readonly columns: number;
  readonly rows: number;
  readonly levels: Uint8Array;

  constructor(columns: number, rows: number) {
    this.columns = columns;
    this.rows = rows;
    this.levels = new Uint8Array(columns * rows);
  }

  /** Records the errors of the cells from row `firstRow` on (row-major). */
  record(firstRow: number, errors: Float32Array): void {
    const offset = firstRow * this.columns;
    for (let i = 0; i < errors.length; i++) this.levels[offset + i] = levelOf(errors[i]!);
  }
}

/** The scale's level (0-255) of a CIEDE2000: by its square root (see TICKS). */
export function levelOf(error: number): number {
  return Math.round(scalePosition(error) * 255);
}

/** Where a CIEDE2000 falls on the scale, 0 to 1. */
function scalePosition(error: number): number {
  return Math.sqrt(Math.min(Math.max(error, 0), HEATMAP_SCALE_MAX) / HEATMAP_SCALE_MAX);
}

/** Size of the heat map of a grid: the cells scaled up to `scale` px blocks, and the legend below. */
export function heatmapLayout(
  columns: number,
  rows: number,
): { scale: number; mapWidth: number; mapHeight: number; width: number; height: number } {
  const scale = Math.max(1, Math.floor(HEATMAP_EDGE / Math.max(columns, rows)));
  const mapWidth = columns * scale;
  const mapHeight = rows * scale;
  return { scale, mapWidth, mapHeight, width: Math.max(mapWidth, LEGEND_MIN_WIDTH), height: mapHeight + LEGEND_HEIGHT };
}

/**
 * Writes the heat map of `map` to `file` as a PNG (through a temporary file): each cell a block of
 * the colour of its error, and under it the colour bar with its ticks in CIEDE2000.
 * @throws {TsmosaicError} naming the file; the signal's reason when aborted
 */
export async function writeHeatmap(file: string, map: ErrorMap, signal?: AbortSignal): Promise<void> {
  const { columns } = map;
  const { scale, mapWidth, mapHeight, width, height } = heatmapLayout(map.columns, map.rows);
  const legend = drawLegend(width);
  let band: Buffer | undefined;
  const renderBand = (top: number, rows: number): Buffer => {
    band ??= Buffer.alloc(rows * width * 3, 255);
    for (let y = 0; y < rows; y++) {
      const row = top + y;
      const line = band.subarray(y * width * 3, (y + 1) * width * 3);
      if (row >= mapHeight) {
        legend.copy(line, 0, (row - mapHeight) * width * 3, (row - mapHeight + 1) * width * 3);
        continue;
      }
      const cells = Math.floor(row / scale) * columns;
      for (let x = 0; x < mapWidth; x++)
        PALETTE.copy(line, x * 3, map.levels[cells + Math.floor(x / scale)]! * 3, map.levels[cells + Math.floor(x / scale)]! * 3 + 3);
      line.fill(255, mapWidth * 3);
    }
    return band;
  };
  await writeThroughTemporary(file, (temporary) => writePng(temporary, width, height, renderBand, { signal }), signal);
}

/** Pixels of a glyph of FONT (3 x 5) drawn as FONT_SCALE x FONT_SCALE squares. */
const FONT_SCALE = 2;
const GLYPH_WIDTH = 3 * FONT_SCALE;
const GLYPH_HEIGHT = 5 * FONT_SCALE;
const GLYPH_GAP = FONT_SCALE;
const MARGIN = 10;
const BAR_HEIGHT = 16;
const TICK_HEIGHT = 4;
/** Margin, bar, tick, a gap, tick labels, a gap, the title, margin. */
const LEGEND_HEIGHT = MARGIN + BAR_HEIGHT + TICK_HEIGHT + 4 + GLYPH_HEIGHT + 8 + GLYPH_HEIGHT + MARGIN;
const LEGEND_MIN_WIDTH = 240;
const TITLE = 'CIEDE2000 OF EACH CELL';

/** A 3 x 5 pixel font of the legend's characters, rows top to bottom, 3 bits a row (left is 4). */
const FONT: Record<string, number[]> = {
  '0': [7, 5, 5, 5, 7],
  '1': [2, 6, 2, 2, 7],
  '2': [7, 1, 7, 4, 7],
  '3': [7, 1, 7, 1, 7],
  '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7],
  '6': [7, 4, 7, 5, 7],
  '7': [7, 1, 1, 1, 1],
  '8': [7, 5, 7, 5, 7],
  '9': [7, 5, 7, 1, 7],
  '+': [0, 2, 7, 2, 0],
  ' ': [0, 0, 0, 0, 0],
  A: [2, 5, 7, 5, 5],
  C: [7, 4, 4, 4, 7],
  D: [6, 5, 5, 5, 6],
  E: [7, 4, 7, 4, 7],
  F: [7, 4, 7, 4, 4],
  H: [5, 5, 7, 5, 5],
  I: [7, 2, 2, 2, 7],
  L: [4, 4, 4, 4, 7],
  O: [7, 5, 5, 5, 7],
};

/** The legend (LEGEND_HEIGHT rows of `width` RGB pixels): the colour bar, its ticks and labels, and the title. */
function drawLegend(width: number): Buffer {
  const legend = Buffer.alloc(LEGEND_HEIGHT * width * 3, 255);
  const barLeft = MARGIN + GLYPH_WIDTH;
  const barWidth = Math.max(1, width - 2 * barLeft - GLYPH_WIDTH * 2);
  const fill = (left: number, top: number, w: number, h: number, rgb: Buffer | number[]): void => {
    for (let y = top; y < top + h; y++) {
      for (let x = left; x < left + w; x++) {
        if (x < 0 || x >= width || y < 0 || y >= LEGEND_HEIGHT) continue;
        for (let c = 0; c < 3; c++) legend[(y * width + x) * 3 + c] = rgb[c]!;
      }
    }
  };
  for (let x = 0; x < barWidth; x++) {
    const level = Math.round((x / Math.max(1, barWidth - 1)) * 255);
    fill(barLeft + x, MARGIN, 1, BAR_HEIGHT, PALETTE.subarray(level * 3, level * 3 + 3));
  }
  const black = [0, 0, 0];
  const text = (value: string, left: number, top: number): void => {
    for (const [i, character] of [...value].entries()) {
      const glyph = FONT[character]!;
      for (let y = 0; y < 5; y++) {
        for (let x = 0; x < 3; x++) {
          if (glyph[y]! & (4 >> x))
            fill(left + i * (GLYPH_WIDTH + GLYPH_GAP) + x * FONT_SCALE, top + y * FONT_SCALE, FONT_SCALE, FONT_SCALE, black);
        }
      }
    }
  };
  const textWidth = (value: string): number => value.length * (GLYPH_WIDTH + GLYPH_GAP) - GLYPH_GAP;
  const tickTop = MARGIN + BAR_HEIGHT;
  for (const value of TICKS) {
    const x = barLeft + Math.round(scalePosition(value) * (barWidth - 1));
    fill(x, tickTop, 1, TICK_HEIGHT, black);
    const label = value === HEATMAP_SCALE_MAX ? `${value}+` : String(value);
    // Centred on the digits, so that "10+" keeps its number under the tick.
    text(label, x - Math.floor(textWidth(String(value)) / 2), tickTop + TICK_HEIGHT + 4);
  }
  text(TITLE, barLeft, tickTop + TICK_HEIGHT + 4 + GLYPH_HEIGHT + 8);
  return legend;
}
