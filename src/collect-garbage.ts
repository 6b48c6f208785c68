import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** V8's gc(); null where it cannot be had. */
let collect: (() => void) | null | undefined;

/**
 * Runs a full garbage collection now. V8 collects when its own heap fills, not when external
 * memory sits unused: buffers a render dropped (tens of MB at gigapixel sizes) would otherwise
 * stay through the native work that follows (libvips' pyramid) and add to its peak.
 */
export function collectGarbage(): void {
  if (collect === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    try {
      // The flag applies to contexts made after it: a fresh one has gc(), this one does not.
      if (!exposed) setFlagsFromString('--expose-gc');
      collect = exposed ?? (runInNewContext('gc') as () => void);
    } catch {
      // A runtime without it: memory is only freed later, nothing else changes.
      collect = null;
    }
  }
  collect?.();
}
