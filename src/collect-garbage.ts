import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | undefined;

/**
 * Runs a full garbage collection now. V8 collects when its own heap fills, not when external
 * memory sits unused: buffers a render dropped (tens of MB at gigapixel sizes) would otherwise
 * stay through the native work that follows (libvips' pyramid) and add to its peak.
 */
export function collectGarbage(): void {
  if (!collect) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed) collect = exposed;
    else {
      // The flag applies to contexts made after it: a fresh one has gc(), this one does not.
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    }
  }
  collect();
}
