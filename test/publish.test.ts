import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TsmosaicError } from '../src/errors.js';
import { discardStale, fsyncFile, fsyncFolder, ownedByMe, Temporary, writeThroughTemporary } from '../src/files/publish.js';
import { ROOT, tempDir } from './helpers.js';

const PUBLISH = pathToFileURL(path.join(ROOT, 'src', 'files', 'publish.ts')).href;

/** A node process running `body` (an ES module) with publish.ts's exports, `say(value)` (a JSON line) and `nextLine()`. */
class Child {
  readonly process: ChildProcess;
  private readonly lines: AsyncIterator<string>;

  constructor(body: string) {
    const script = `
      import { Temporary, discardStale } from ${JSON.stringify(PUBLISH)};
      import { mkdir, rename, writeFile } from 'node:fs/promises';
      import path from 'node:path';
      import { createInterface } from 'node:readline';
      const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
      const nextLine = async () => (await input.next()).value;
      const say = (value) => console.log(JSON.stringify(value));
      ${body}
      process.exit(0);
    `;
    this.process = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.lines = createInterface({ input: this.process.stdout! })[Symbol.asyncIterator]();
  }

  /** The next value the child says. */
  async heard<T>(): Promise<T> {
    const { value, done } = await this.lines.next();
    if (done) throw new Error('the child ended without saying more');
    return JSON.parse(value as string) as T;
  }

  tell(line = ''): void {
    this.process.stdin!.write(`${line}\n`);
  }

  async killed(): Promise<void> {
    const exit = once(this.process, 'exit');
    this.process.kill('SIGKILL');
    await exit;
  }

  async ended(): Promise<void> {
    const exit = once(this.process, 'exit');
    this.process.stdin!.end();
    const [code] = (await exit) as [number | null];
    assert.equal(code, 0);
  }
}

/** The names of `target`'s temporaries in its folder (anything beginning `.<name>.tmp-`). */
async function temporariesOf(target: string): Promise<string[]> {
  const prefix = `.${path.basename(target)}.tmp-`;
  return (await readdir(path.dirname(target))).filter((name) => name.startsWith(prefix)).sort();
}

/** Every file and folder under `folder`, relative, sorted. */
async function tree(folder: string): Promise<string[]> {
  return ((await readdir(folder, { recursive: true })) as string[]).map((name) => name.split(path.sep).join('/')).sort();
}

/** A folder `target` holding `files` (relative name: contents). */
async function makeFolder(target: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(target, name)), { recursive: true });
    await writeFile(path.join(target, name), text);
  }
}

describe('Temporary.findStale', () => {
  it('does not return the temporary of a live process, and returns it once that process is killed', async () => {
    const target = path.join(await tempDir(), 'index');
    const child = new Child(`
      const temporary = await Temporary.create(${JSON.stringify(target)});
      await mkdir(temporary.path);
      await writeFile(path.join(temporary.path, 'checkpoint.json'), '{}');
      const raw = temporary.sibling('v');
      await writeFile(raw, Buffer.alloc(4 * 3 * 3));
      say({ path: temporary.path, raw });
      await nextLine();
    `);
    const held = await child.heard<{ path: string; raw: string }>();
    assert.deepEqual(await temporariesOf(target), [held.path, held.raw, `${held.path}.lock`].map((name) => path.basename(name)).sort());

    assert.deepEqual(await Temporary.findStale(target), [], 'the owner is alive');
    await child.killed();

    const stale = await Temporary.findStale(target);
    assert.deepEqual(
      stale.map((found) => found.path),
      [held.path],
    );
    assert.deepEqual(await Temporary.findStale(target), [], 'a stale temporary is locked by the run that found it');
    await stale[0]!.discard();
    assert.deepEqual(await temporariesOf(target), [], 'the folder, the raw .v file and the lock file are removed');
  });

  it('leaves the temporaries of this process alone, and those of tsmosaic before locks', async () => {
    const target = path.join(await tempDir(), 'mosaic.png');
    const own = await Temporary.create(target);
    await writeFile(own.path, 'partial');
    const legacy = ['.mosaic.png.tmp-4242-0badc0de', '.mosaic.png.tmp-4242-0badc0de.v'];
    for (const name of legacy) await writeFile(path.join(path.dirname(target), name), '');

    assert.deepEqual(await Temporary.findStale(target), []);
    await own.discard();
    assert.deepEqual(await temporariesOf(target), legacy);
  });

  it('takes over a temporary whose lock file is missing', async () => {
    const target = path.join(await tempDir(), 'mosaic.png');
    const left = await Temporary.create(target);
    await writeFile(left.path, 'partial');
    await left.keep();
    await rm(`${left.path}.lock`);

    const stale = await Temporary.findStale(target);
    assert.deepEqual(
      stale.map((found) => found.path),
      [left.path],
    );
    await stale[0]!.discard();
    assert.deepEqual(await temporariesOf(target), []);
  });

  it('gives kept temporaries back with what they hold', async () => {
    const target = path.join(await tempDir(), 'index');
    const kept = await Temporary.create(target);
    await makeFolder(kept.path, { 'checkpoint.json': '{"tileCount":3}' });
    await kept.keep();

    const [stale] = await Temporary.findStale(target);
    assert.equal(stale?.path, kept.path);
    assert.equal(await readFile(path.join(stale.path, 'checkpoint.json'), 'utf8'), '{"tileCount":3}');
    await stale.keep();
    assert.equal((await Temporary.findStale(target)).length, 1, 'kept again for the next run');
  });

  it('puts back a folder renamed aside by a run killed before the new one was renamed in', async () => {
    const target = path.join(await tempDir(), 'mosaic_files');
    await makeFolder(target, { '0/0_0.jpg': 'old' });
    const child = new Child(`
      const target = ${JSON.stringify(target)};
      const temporary = await Temporary.create(target);
      await mkdir(path.join(temporary.path, '0'), { recursive: true });
      await writeFile(path.join(temporary.path, '0', '0_0.jpg'), 'new');
      await rename(target, temporary.path + '.old');
      say(temporary.path);
      await nextLine();
    `);
    const temporary = await child.heard<string>();
    await child.killed();

    const stale = await Temporary.findStale(target);
    assert.deepEqual(await tree(target), ['0', '0/0_0.jpg']);
    assert.equal(await readFile(path.join(target, '0', '0_0.jpg'), 'utf8'), 'old');
    assert.deepEqual(
      stale.map((found) => found.path),
      [temporary],
    );
    await stale[0]!.discard();
    assert.deepEqual(await temporariesOf(target), []);
    assert.equal(await readFile(path.join(target, '0', '0_0.jpg'), 'utf8'), 'old');
  });

  it('removes a folder renamed aside by a run killed after the new one was renamed in', async () => {
    const target = path.join(await tempDir(), 'mosaic_files');
    await makeFolder(target, { '0/0_0.jpg': 'old' });
    const child = new Child(`
      const target = ${JSON.stringify(target)};
      const temporary = await Temporary.create(target);
      await mkdir(path.join(temporary.path, '0'), { recursive: true });
      await writeFile(path.join(temporary.path, '0', '0_0.jpg'), 'new');
      await rename(target, temporary.path + '.old');
      await rename(temporary.path, target);
      say(temporary.path);
      await nextLine();
    `);
    await child.heard();
    await child.killed();

    const stale = await Temporary.findStale(target);
    assert.equal(stale.length, 1);
    await stale[0]!.discard();
    assert.deepEqual(await temporariesOf(target), []);
    assert.deepEqual(await tree(target), ['0', '0/0_0.jpg']);
    assert.equal(await readFile(path.join(target, '0', '0_0.jpg'), 'utf8'), 'new');
  });

  it('does not put back an aside that belongs to another user', async () => {
    const target = path.join(await tempDir(), 'index');
    const planted = await Temporary.create(target);
    const aside = `${planted.path}.old`;
    await makeFolder(aside, { 'manifest.json': '{}' });
    chownSync(aside, 65534, 65534);
    await planted.keep();

    assert.deepEqual(await Temporary.findStale(target), [], 'nothing else of the id is left');
    assert.deepEqual(await temporariesOf(target), [path.basename(aside)]);
    await assert.rejects(readdir(target), { code: 'ENOENT' });
  });

  it('never gives the same temporary to two processes looking at once', async () => {
    const target = path.join(await tempDir(), 'index');
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const left = await Temporary.create(target);
      await makeFolder(left.path, { 'checkpoint.json': String(i) });
      await left.keep();
      // A third of them without their lock file: whoever creates it again takes them.
      if (i % 3 === 0) await rm(`${left.path}.lock`);
      ids.push(left.id);
    }
    const children = [0, 1].map(
      () =>
        new Child(`
          say('ready');
          await nextLine();
          const stale = await Temporary.findStale(${JSON.stringify(target)});
          say(stale.map((found) => found.id));
          await nextLine();
          for (const found of stale) await found.discard();
          say('done');
          await nextLine();
        `),
    );
    for (const child of children) assert.equal(await child.heard(), 'ready');
    for (const child of children) child.tell('go');
    const [first, second] = await Promise.all(children.map((child) => child.heard<string[]>()));
    assert.deepEqual(
      first!.filter((id) => second!.includes(id)),
      [],
      'no id was given to both',
    );
    assert.deepEqual([...first!, ...second!].sort(), [...ids].sort(), 'each was given to one, since both held theirs');
    for (const child of children) child.tell();
    for (const child of children) assert.equal(await child.heard(), 'done');
    await Promise.all(children.map((child) => child.ended()));
    assert.deepEqual(await temporariesOf(target), []);
  });

  it('sees the lock of a worker thread while the thread runs, and not once it has exited', async () => {
    const target = path.join(await tempDir(), 'mosaic.png');
    const worker = new Worker(
      `
      const { parentPort } = require('node:worker_threads');
      import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(PUBLISH)}); }).then(async ({ Temporary }) => {
        const temporary = await Temporary.create(${JSON.stringify(target)});
        require('node:fs').writeFileSync(temporary.path, 'partial');
        parentPort.postMessage(temporary.path);
        parentPort.once('message', () => process.exit(0));
      });
    `,
      { eval: true },
    );
    const [held] = (await once(worker, 'message')) as [string];
    assert.deepEqual(await Temporary.findStale(target), []);
    worker.postMessage('exit');
    await once(worker, 'exit');

    const stale = await Temporary.findStale(target);
    assert.deepEqual(
      stale.map((found) => found.path),
      [held],
    );
    await stale[0]!.discard();
  });
});

describe('Temporary.publish', () => {
  it('replaces a folder with exactly the new contents and leaves nothing beside it', async () => {
    const target = path.join(await tempDir(), 'mosaic_files');
    await makeFolder(target, { '0/0_0.jpg': 'old', '1/0_0.jpg': 'old', 'stale.txt': 'old' });
    const temporary = await Temporary.create(target);
    await makeFolder(temporary.path, { '0/0_0.jpg': 'new', '2/1_1.jpg': 'new' });
    await temporary.publish();

    assert.deepEqual(await tree(target), ['0', '0/0_0.jpg', '2', '2/1_1.jpg']);
    assert.equal(await readFile(path.join(target, '0', '0_0.jpg'), 'utf8'), 'new');
    assert.deepEqual(await readdir(path.dirname(target)), ['mosaic_files']);
  });

  it('makes a folder where there was none', async () => {
    const target = path.join(await tempDir(), 'index');
    const temporary = await Temporary.create(target);
    await makeFolder(temporary.path, { 'manifest.json': '{}' });
    await temporary.publish();
    assert.deepEqual(await tree(target), ['manifest.json']);
    assert.deepEqual(await readdir(path.dirname(target)), ['index']);
  });

  it('replaces a file and removes the other files of its id', async () => {
    const target = path.join(await tempDir(), 'mosaic.tif');
    await writeFile(target, 'old');
    const temporary = await Temporary.create(target);
    await writeFile(temporary.sibling('v'), Buffer.alloc(2 * 2 * 3));
    await writeFile(temporary.path, 'new');
    await temporary.publish();

    assert.equal(await readFile(target, 'utf8'), 'new');
    assert.deepEqual(await readdir(path.dirname(target)), ['mosaic.tif']);
    await assert.rejects(temporary.publish(), /already published/);
  });

  it('fails as one line naming the target when there is nothing to publish, and stays owned', async () => {
    const target = path.join(await tempDir(), 'mosaic.png');
    const temporary = await Temporary.create(target);
    await assert.rejects(temporary.publish(), (error: unknown) => {
      assert.ok(error instanceof TsmosaicError);
      assert.match(error.message, /^cannot write .*mosaic\.png: ENOENT[^\n]*$/);
      return true;
    });
    assert.deepEqual(await Temporary.findStale(target), []);
    await temporary.discard();
    assert.deepEqual(await readdir(path.dirname(target)), []);
  });
});

describe('Temporary.discard', () => {
  it('removes the temporary, its siblings and its lock file', async () => {
    const target = path.join(await tempDir(), 'mosaic.png');
    const temporary = await Temporary.create(target);
    await writeFile(temporary.path, 'partial');
    await writeFile(temporary.sibling('v'), 'raw');
    await temporary.discard();
    await temporary.discard();
    assert.deepEqual(await readdir(path.dirname(target)), []);
  });

  it('refuses a suffix that is not letters and digits, or one of its own', async () => {
    const temporary = await Temporary.create(path.join(await tempDir(), 'mosaic.png'));
    for (const suffix of ['lock', 'old', '', 'V', 'a.b']) assert.throws(() => temporary.sibling(suffix), RangeError);
    await temporary.discard();
  });
});

describe('writeThroughTemporary', () => {
  it('writes the file, after removing what runs that are gone left for it', async () => {
    const target = path.join(await tempDir(), 'mosaic.tif');
    const left = await Temporary.create(target);
    await writeFile(left.sibling('v'), Buffer.alloc(64 * 32 * 3));
    await left.keep();

    await writeThroughTemporary(target, async (temporary) => {
      assert.equal(path.dirname(temporary), path.dirname(target));
      await writeFile(temporary, 'mosaic');
    });
    assert.equal(await readFile(target, 'utf8'), 'mosaic');
    assert.deepEqual(await readdir(path.dirname(target)), ['mosaic.tif']);
  });

  it('leaves the previous file and nothing else when writing fails', async () => {
    const target = path.join(await tempDir(), 'mosaic.png');
    await writeFile(target, 'previous');
    const failing = writeThroughTemporary(target, async (temporary, owner) => {
      await writeFile(temporary, 'partial');
      await writeFile(owner.sibling('v'), 'raw');
      throw new Error('disk full\nsecond line');
    });
    await assert.rejects(failing, (error: unknown) => {
      assert.ok(error instanceof TsmosaicError);
      assert.equal(error.message, `cannot write ${target}: disk full`);
      return true;
    });
    assert.equal(await readFile(target, 'utf8'), 'previous');
    assert.deepEqual(await readdir(path.dirname(target)), ['mosaic.png']);
  });

  it('throws the signal reason as it is', async () => {
    const target = path.join(await tempDir(), 'mosaic.png');
    const controller = new AbortController();
    const reason = new Error('stopped');
    const writing = writeThroughTemporary(
      target,
      async () => {
        controller.abort(reason);
        throw reason;
      },
      controller.signal,
    );
    await assert.rejects(writing, (error: unknown) => error === reason);
    assert.deepEqual(await readdir(path.dirname(target)), []);
  });

  it('does not publish a file written to the end when the signal came during synchronous work', async () => {
    const target = path.join(await tempDir(), 'mosaic.png');
    await writeFile(target, 'previous');
    const controller = new AbortController();
    const reason = new Error('stopped');
    const writing = writeThroughTemporary(
      target,
      async (temporary) => {
        await writeFile(temporary, 'mosaic');
        // A signal that comes now is handled, as node runs handlers, only once the event loop turns.
        setImmediate(() => controller.abort(reason));
        const busyUntil = performance.now() + 20;
        while (performance.now() < busyUntil);
      },
      controller.signal,
    );
    await assert.rejects(writing, (error: unknown) => error === reason);
    assert.equal(await readFile(target, 'utf8'), 'previous');
    assert.deepEqual(await readdir(path.dirname(target)), ['mosaic.png']);
  });
});

describe('discardStale', () => {
  it('removes every stale temporary of a target and no other', async () => {
    const folder = await tempDir();
    const target = path.join(folder, 'plan.json');
    for (const name of [target, path.join(folder, 'other.json')]) {
      const left = await Temporary.create(name);
      await writeFile(left.path, '{');
      await left.keep();
    }
    await discardStale(target);
    assert.deepEqual(await temporariesOf(target), []);
    assert.equal((await temporariesOf(path.join(folder, 'other.json'))).length, 2);
  });
});

describe('ownedByMe', () => {
  it('holds for what this user made, not for a symbolic link, an entry of another user or nothing', async () => {
    const folder = await tempDir();
    const mine = path.join(folder, 'mine');
    await makeFolder(mine, { 'checkpoint.json': '{}' });
    const link = path.join(folder, 'link');
    await symlink(mine, link);
    const theirs = path.join(folder, 'theirs');
    await mkdir(theirs);
    chownSync(theirs, 65534, 65534);

    assert.equal(await ownedByMe(mine), true);
    assert.equal(await ownedByMe(path.join(mine, 'checkpoint.json')), true);
    assert.equal(await ownedByMe(link), false);
    assert.equal(await ownedByMe(theirs), false);
    assert.equal(await ownedByMe(path.join(folder, 'missing')), false);
  });
});

describe('fsyncFile and fsyncFolder', () => {
  it('flush files, a folder and a tree, and report a missing one', async () => {
    const folder = await tempDir();
    await makeFolder(path.join(folder, 'tree'), { 'a.txt': 'a', 'sub/b.txt': 'b', 'sub/deeper/c.txt': 'c' });
    await symlink(path.join(folder, 'missing'), path.join(folder, 'tree', 'dangling'));
    await fsyncFile(path.join(folder, 'tree', 'a.txt'));
    await fsyncFolder(folder);
    await fsyncFolder(path.join(folder, 'tree'), { recursive: true });
    await assert.rejects(fsyncFile(path.join(folder, 'missing')), { code: 'ENOENT' });
    await assert.rejects(fsyncFolder(path.join(folder, 'missing'), { recursive: true }), { code: 'ENOENT' });
  });
});
