/**
 * DIN99o (DIN 6176): CIELAB reshaped so that the euclidean distance follows perceived differences
 * about as CIEDE2000 does (lightness and chroma compressed logarithmically, the a axis turned and
 * shortened), where a distance must bound or rank colours the way the match cost does.
 */

const HUE_TURN = (26 * Math.PI) / 180;
const COS = Math.cos(HUE_TURN);
const SIN = Math.sin(HUE_TURN);

/** DIN99o L, a, b of the CIELAB colour at `lab[from]` (3 values), written to `out` at `at`. */
export function labToDin99oAt(lab: ArrayLike<number>, from: number, out: { [index: number]: number }, at: number): void {
  const l = lab[from]!;
  const a = lab[from + 1]!;
  const b = lab[from + 2]!;
  const e = a * COS + b * SIN;
  const f = 0.83 * (b * COS - a * SIN);
  const g = Math.sqrt(e * e + f * f);
  const chroma = Math.log(1 + 0.075 * g) / 0.0435;
  const hue = Math.atan2(f, e) + HUE_TURN;
  out[at] = 303.67 * Math.log(1 + 0.0039 * l);
  out[at + 1] = chroma * Math.cos(hue);
  out[at + 2] = chroma * Math.sin(hue);
}
