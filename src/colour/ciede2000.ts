const DEGREES = 180 / Math.PI;
const RADIANS = Math.PI / 180;
const POW25_7 = 25 ** 7;
const [COS_30, SIN_30] = [Math.cos(30 * RADIANS), Math.sin(30 * RADIANS)];
const [COS_6, SIN_6] = [Math.cos(6 * RADIANS), Math.sin(6 * RADIANS)];
const [COS_63, SIN_63] = [Math.cos(63 * RADIANS), Math.sin(63 * RADIANS)];

/** The two colours of a ciede2000 call, one after the other. */
const PAIR = new Float64Array(6);

/**
 * CIEDE2000 colour difference between two CIELAB colours (kL = kC = kH = 1), following
 * Sharma, Wu and Dalal, "The CIEDE2000 Color-Difference Formula: Implementation Notes,
 * Supplementary Test Data, and Mathematical Observations", Color Res. Appl. 30(1), 2005.
 */
export function ciede2000(l1: number, a1: number, b1: number, l2: number, a2: number, b2: number): number {
  PAIR[0] = l1;
  PAIR[1] = a1;
  PAIR[2] = b1;
  PAIR[3] = l2;
  PAIR[4] = a2;
  PAIR[5] = b2;
  return ciede2000At(PAIR, 0, PAIR, 3);
}

/**
 * ciede2000 of the colours at `first` in `one` and at `second` in `other` (L*, a*, b* each).
 * Hot loops call this form: a call V8 does not inline (this function is too long for it) boxes
 * every number passed as an argument, and placement would allocate for each of them.
 */
export function ciede2000At(one: Float32Array | Float64Array, first: number, other: Float32Array | Float64Array, second: number): number {
  const l1 = one[first]!;
  const a1 = one[first + 1]!;
  const b1 = one[first + 2]!;
  const l2 = other[second]!;
  const a2 = other[second + 1]!;
  const b2 = other[second + 2]!;
  // Math.sqrt and products rather than Math.hypot and **: several times faster in V8.
  const chromaMean = (Math.sqrt(a1 * a1 + b1 * b1) + Math.sqrt(a2 * a2 + b2 * b2)) / 2;
  const chromaMean7 = pow7(chromaMean);
  const g = 0.5 * (1 - Math.sqrt(chromaMean7 / (chromaMean7 + POW25_7)));
  const a1p = (1 + g) * a1;
  const a2p = (1 + g) * a2;
  const c1p = Math.sqrt(a1p * a1p + b1 * b1);
  const c2p = Math.sqrt(a2p * a2p + b2 * b2);
  const product = c1p * c2p;

  const deltaL = l2 - l1;
  const deltaC = c2p - c1p;
  // The hue difference 2 sqrt(C1' C2') sin(dh' / 2) from the hue vectors' dot and cross products
  // (sin dh' = cross / C1'C2', cos dh' = dot / C1'C2'; both 0 when a chroma is 0): for hues less
  // than 90 degrees apart cross sqrt(2 / (C1'C2' + dot)), exactly 0 for equal hues, else
  // sqrt(2 (C1'C2' - dot)) with the sign of cross, both without cancellation. No angle is needed,
  // which saves two arctangents and a sine a pair.
  const dot = a1p * a2p + b1 * b2;
  const cross = a1p * b2 - b1 * a2p;
  let deltaH = dot > 0 ? cross * Math.sqrt(2 / (product + dot)) : (cross < 0 ? -1 : 1) * Math.sqrt(2 * (product - dot));

  const lMean = (l1 + l2) / 2;
  const cMean = (c1p + c2p) / 2;
  // The mean hue: the direction that halves the shorter arc between the two hues, that of the sum
  // of their unit vectors (with a chroma of 0, the other hue: CIEDE2000 takes h' = 0 there and does
  // not halve the sum). Only hues exactly opposite need the angles.
  let cosH = (c1p > 0 ? a1p / c1p : 0) + (c2p > 0 ? a2p / c2p : 0);
  let sinH = (c1p > 0 ? b1 / c1p : 0) + (c2p > 0 ? b2 / c2p : 0);
  const length = Math.sqrt(cosH * cosH + sinH * sinH);
  let hMean: number;
  if (length > 1e-9 || product === 0) {
    cosH = length > 0 ? cosH / length : 1;
    sinH = length > 0 ? sinH / length : 0;
    hMean = Math.atan2(sinH, cosH) * DEGREES;
    if (hMean < 0) hMean += 360;
  } else {
    const h1p = hueDegrees(b1, a1p);
    const h2p = hueDegrees(b2, a2p);
    hMean = (h1p + h2p + (Math.abs(h1p - h2p) > 180 ? (h1p + h2p < 360 ? 360 : -360) : 0)) / 2;
    cosH = Math.cos(hMean * RADIANS);
    sinH = Math.sin(hMean * RADIANS);
    let deltaHue = h2p - h1p;
    if (deltaHue > 180) deltaHue -= 360;
    else if (deltaHue < -180) deltaHue += 360;
    deltaH = (deltaHue < 0 ? -1 : 1) * Math.sqrt(2 * (product - dot));
  }
  // T's four cosines from the cosine and sine of the mean hue, by the multiple-angle formulas.
  const cos2H = 2 * cosH * cosH - 1;
  const sin2H = 2 * sinH * cosH;
  const cos3H = cosH * (4 * cosH * cosH - 3);
  const sin3H = sinH * (3 - 4 * sinH * sinH);
  const cos4H = 2 * cos2H * cos2H - 1;
  const sin4H = 2 * sin2H * cos2H;
  const t =
    1 -
    0.17 * (cosH * COS_30 + sinH * SIN_30) +
    0.24 * cos2H +
    0.32 * (cos3H * COS_6 - sin3H * SIN_6) -
    0.2 * (cos4H * COS_63 + sin4H * SIN_63);
  const hueShift = (hMean - 275) / 25;
  const deltaTheta = 30 * Math.exp(-hueShift * hueShift);
  const cMean7 = pow7(cMean);
  const rc = 2 * Math.sqrt(cMean7 / (cMean7 + POW25_7));
  const lShift = (lMean - 50) * (lMean - 50);
  const sl = 1 + (0.015 * lShift) / Math.sqrt(20 + lShift);
  const sc = 1 + 0.045 * cMean;
  const sh = 1 + 0.015 * cMean * t;
  const rt = -Math.sin(2 * deltaTheta * RADIANS) * rc;

  const l = deltaL / sl;
  const c = deltaC / sc;
  const h = deltaH / sh;
  return Math.sqrt(l * l + c * c + h * h + rt * c * h);
}

function hueDegrees(b: number, aPrime: number): number {
  if (b === 0 && aPrime === 0) return 0;
  const hue = Math.atan2(b, aPrime) * DEGREES;
  return hue < 0 ? hue + 360 : hue;
}

function pow7(x: number): number {
  const x2 = x * x;
  return x2 * x2 * x2 * x;
}
