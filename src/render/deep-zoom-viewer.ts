import { cp, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { TsmosaicError } from '../errors.js';
import { safeJson } from '../text.js';
import type { DeepZoomLayout } from './deep-zoom-layout.js';
import { pathExists } from '../files/paths.js';
import { discardStale, Temporary, writeThroughTemporary } from '../files/publish.js';
import { quote } from '../text.js';

/** The viewer page and the folder of OpenSeadragon beside it. */
export const VIEWER_PAGE = 'index.html';
export const VIEWER_LIBRARY = 'openseadragon';
const GENERATOR = '<meta name="generator" content="tsmosaic">';

/** OpenSeadragon's build folder (openseadragon.min.js and images/) in the installed package. */
function openSeadragonBuild(): string {
  return path.dirname(createRequire(import.meta.url).resolve('openseadragon'));
}

/**
 * Checks, before any work, that the viewer would replace only an earlier tsmosaic viewer.
 * @throws {TsmosaicError}
 */
export async function assertViewerReplaceable(folder: string): Promise<void> {
  const page = path.join(folder, VIEWER_PAGE);
  let html: string | undefined;
  try {
    html = await readFile(page, 'utf8');
  } catch {
    // no page yet
  }
  if (html !== undefined && !html.includes(GENERATOR)) {
    throw new TsmosaicError(
      `${quote(page)} exists and was not written by tsmosaic; refusing to replace it (write the deep zoom into another folder)`,
    );
  }
  const library = path.join(folder, VIEWER_LIBRARY);
  if ((await pathExists(library)) && !(await pathExists(path.join(library, 'openseadragon.min.js')))) {
    throw new TsmosaicError(
      `${quote(library)} exists and is not OpenSeadragon; refusing to replace it (write the deep zoom into another folder)`,
    );
  }
}

/**
 * Writes `index.html` and a copy of OpenSeadragon into `folder`, showing the pyramid `<name>.dzi`.
 * The page works opened from disk (file://) without network: the descriptor is inlined (browsers
 * refuse to fetch a file from a file:// page), and it asks for OpenSeadragon's canvas drawer
 * (the default WebGL drawer cannot upload file:// images as textures).
 */
export async function writeViewer(folder: string, name: string, layout: DeepZoomLayout): Promise<void> {
  const library = path.join(folder, VIEWER_LIBRARY);
  const page = path.join(folder, VIEWER_PAGE);
  await Promise.all([discardStale(library), discardStale(page)]);
  const build = openSeadragonBuild();
  const copy = await Temporary.create(library);
  try {
    await cp(path.join(build, 'images'), path.join(copy.path, 'images'), { recursive: true });
    await cp(path.join(build, 'openseadragon.min.js'), path.join(copy.path, 'openseadragon.min.js'));
    await copy.publish();
  } catch (error) {
    await copy.discard();
    throw error;
  }
  await writeThroughTemporary(page, (temporary) => writeFile(temporary, viewerPage(name, layout)));
}

/** The viewer page for the pyramid `<name>.dzi`. */
export function viewerPage(name: string, layout: DeepZoomLayout): string {
  const tileSource = {
    Image: {
      xmlns: 'http://schemas.microsoft.com/deepzoom/2008',
      Url: `${encodeURIComponent(name)}_files/`,
      Format: layout.format,
      Overlap: String(layout.overlap),
      TileSize: String(layout.tileSize),
      Size: { Width: String(layout.width), Height: String(layout.height) },
    },
  };
  const title = `${name} (${layout.width} x ${layout.height} px)`.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
${GENERATOR}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
  html, body { margin: 0; height: 100%; background: #1b1b1b; }
  #viewer { position: absolute; inset: 0; }
</style>
</head>
<body>
<div id="viewer"></div>
<script src="${VIEWER_LIBRARY}/openseadragon.min.js"></script>
<script>
  // Written by tsmosaic. The pyramid's descriptor is inlined and the canvas drawer
  // chosen so that this page works opened straight from disk, with no server and no network.
  window.viewer = OpenSeadragon({
    id: 'viewer',
    prefixUrl: '${VIEWER_LIBRARY}/images/',
    drawer: 'canvas',
    showNavigator: true,
    maxZoomPixelRatio: 4,
    visibilityRatio: 0.5,
    tileSources: ${safeJson(tileSource)},
  });
</script>
</body>
</html>
`;
}
