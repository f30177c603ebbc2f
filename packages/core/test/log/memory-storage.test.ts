import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidStateError, LogLockedError, type StorageOperation } from '../../src/index.js';
import { MEMORY_FILE_CHUNK_BYTES } from '../../src/log/memory-storage.js';
import { MemoryStorage } from '../../src/testing/index.js';
import { bytes } from './unit-helpers.js';

function text(storage: MemoryStorage, name: string): string | undefined {
  return storage.fileBytes(name)?.toString('utf8');
}

describe('MemoryStorage', () => {
  it('a process crash keeps what was written; a power loss keeps what was synced', () => {
    const storage = new MemoryStorage();
    const file = storage.open('f', { create: true, dsync: false });
    file.write(bytes('synced'), 0);
    file.syncNow();
    file.write(bytes('+written'), 6);
    expect(text(storage, 'f')).toBe('synced+written');
    expect(text(storage.crash({ kind: 'process' }), 'f')).toBe('synced+written');
    expect(text(storage.crash({ kind: 'power' }), 'f')).toBe('synced');
    // The storage itself is untouched: several images of one moment.
    expect(text(storage.crash({ kind: 'power' }), 'f')).toBe('synced');
    expect(text(storage, 'f')).toBe('synced+written');
  });

  it('a file never synced, nor made durable by a directory sync, vanishes in a power loss', () => {
    const storage = new MemoryStorage();
    storage.open('never', { create: true, dsync: false }).write(bytes('x'), 0);
    expect(storage.crash({ kind: 'power' }).list()).toEqual([]);
    expect(storage.crash({ kind: 'process' }).list()).toEqual(['never']);
    storage.syncDirectory();
    const image = storage.crash({ kind: 'power' });
    expect(image.list()).toEqual(['never']);
    expect(image.fileBytes('never')!.length).toBe(0); // the entry is durable, its bytes are not
  });

  it('an unsynced truncation or overwrite is undone by a power loss; a synced one sticks', () => {
    const storage = new MemoryStorage();
    const file = storage.open('f', { create: true, dsync: false });
    file.write(bytes('0123456789'), 0);
    file.syncNow();
    file.truncate(4);
    file.write(bytes('ab'), 4);
    expect(text(storage, 'f')).toBe('0123ab');
    expect(text(storage.crash({ kind: 'power' }), 'f')).toBe('0123456789');
    file.write(bytes('Z'), 0);
    expect(text(storage.crash({ kind: 'power' }), 'f')).toBe('0123456789');
    file.syncNow();
    expect(text(storage.crash({ kind: 'power' }), 'f')).toBe('Z123ab');
  });

  it('tornBytes keeps a prefix of the unsynced append, only when the synced image is a prefix', () => {
    const storage = new MemoryStorage();
    const file = storage.open('f', { create: true, dsync: false });
    file.write(bytes('base'), 0);
    file.syncNow();
    file.write(bytes('-tail'), 4);
    const seen: [string, number][] = [];
    const image = storage.crash({
      kind: 'power',
      tornBytes: (name, unsynced) => {
        seen.push([name, unsynced]);
        return 2;
      },
    });
    expect(seen).toEqual([['f', 5]]);
    expect(text(image, 'f')).toBe('base-t');
    expect(text(storage.crash({ kind: 'power', tornBytes: () => 99 }), 'f')).toBe('base-tail');
    expect(text(storage.crash({ kind: 'power', tornBytes: () => -3 }), 'f')).toBe('base');
    file.write(bytes('B'), 0); // the synced image is no longer a prefix: nothing torn is kept
    expect(text(storage.crash({ kind: 'power', tornBytes: () => 99 }), 'f')).toBe('base');
  });

  it('a dsync file is synced by each write', () => {
    const storage = new MemoryStorage();
    const file = storage.open('d', { create: true, dsync: true });
    const syncs = storage.syncCount;
    file.write(bytes('durable'), 0);
    expect(storage.syncCount).toBe(syncs + 1);
    expect(text(storage.crash({ kind: 'power' }), 'd')).toBe('durable');
  });

  it('corrupt changes both images', () => {
    const storage = new MemoryStorage();
    const file = storage.open('f', { create: true, dsync: false });
    file.write(bytes('abcdef'), 0);
    file.syncNow();
    storage.corrupt('f', 1, bytes('XY'));
    expect(text(storage, 'f')).toBe('aXYdef');
    expect(text(storage.crash({ kind: 'power' }), 'f')).toBe('aXYdef');
    expect(() => storage.corrupt('missing', 0, bytes('x'))).toThrow(InvalidStateError);
  });

  it('injected faults: after N successes, with the given or an EIO error; the failed write changes nothing', async () => {
    const storage = new MemoryStorage();
    const file = storage.open('f', { create: true, dsync: false });
    storage.injectFault({ op: 'write', after: 1 });
    file.write(bytes('one'), 0);
    expect(() => file.write(bytes('two'), 3)).toThrow(/EIO/);
    expect(text(storage, 'f')).toBe('one');
    file.write(bytes('two'), 3); // a fault fires once
    const custom = new Error('ENOSPC');
    storage.injectFault({ op: 'sync', error: custom });
    await expect(file.sync()).rejects.toBe(custom);
    expect(text(storage.crash({ kind: 'power' }), 'f')).toBeUndefined();
    file.syncNow();
    expect(text(storage.crash({ kind: 'power' }), 'f')).toBe('onetwo');
  });

  it('reports operations, refuses closed files and missing files', () => {
    const storage = new MemoryStorage();
    const operations: StorageOperation[] = [];
    storage.onOperation = (operation) => operations.push(operation);
    const file = storage.open('f', { create: true, dsync: false });
    file.write(bytes('ab'), 0);
    file.syncNow();
    file.truncate(1);
    storage.syncDirectory();
    storage.remove('f');
    expect(operations.map((o) => o.kind)).toEqual([
      'create',
      'write',
      'sync',
      'truncate',
      'sync-directory',
      'remove',
    ]);
    file.close();
    expect(() => file.read(Buffer.alloc(1), 0, 1, 0)).toThrow(InvalidStateError);
    expect(() => file.write(bytes('x'), 0)).toThrow(InvalidStateError);
    expect(() => storage.open('absent', { create: false, dsync: false })).toThrow(/ENOENT/);
  });

  it('locks once; the lock is released once; a crash image starts unlocked', () => {
    const storage = new MemoryStorage('named');
    expect(storage.location).toBe('memory:named');
    const lock = storage.lock();
    expect(() => storage.lock()).toThrow(LogLockedError);
    const image = storage.crash({ kind: 'process' });
    image.lock().release();
    lock.release();
    const again = storage.lock();
    lock.release(); // a stale handle does not release the new holder
    expect(() => storage.lock()).toThrow(LogLockedError);
    again.release();
  });
});

describe('MemoryStorage files in chunks', () => {
  type Operation =
    | { kind: 'write'; position: number; length: number; fill: number }
    | { kind: 'truncate'; size: number }
    | { kind: 'sync' }
    | { kind: 'read'; position: number; length: number };

  const CHUNK = MEMORY_FILE_CHUNK_BYTES;
  // Positions near the chunk boundaries, where a write, a read or a truncation spans two chunks.
  const position = fc.oneof(
    fc.integer({ min: 0, max: 64 }),
    fc.integer({ min: CHUNK - 64, max: CHUNK + 64 }),
    fc.integer({ min: 2 * CHUNK - 64, max: 2 * CHUNK + 64 }),
    fc.integer({ min: 0, max: 3 * CHUNK }),
  );
  const operation: fc.Arbitrary<Operation> = fc.oneof(
    fc.record({
      kind: fc.constant('write' as const),
      position,
      length: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: CHUNK - 10, max: CHUNK + 10 })),
      fill: fc.integer({ min: 1, max: 255 }),
    }),
    fc.record({ kind: fc.constant('truncate' as const), size: position }),
    fc.record({ kind: fc.constant('sync' as const) }),
    fc.record({ kind: fc.constant('read' as const), position, length: fc.integer({ min: 0, max: 300 }) }),
  );

  it('reads, writes past the end, truncates and crash images agree with one contiguous buffer', () => {
    fc.assert(
      fc.property(fc.array(operation, { minLength: 1, maxLength: 12 }), (operations) => {
        const storage = new MemoryStorage();
        const file = storage.open('f', { create: true, dsync: false });
        storage.syncDirectory();
        let model = Buffer.alloc(0);
        let synced = Buffer.alloc(0);
        for (const op of operations) {
          if (op.kind === 'write') {
            const data = Buffer.alloc(op.length, op.fill);
            file.write(data, op.position);
            // A write past the end zeroes the gap, as a file system does.
            const grown = Buffer.alloc(Math.max(model.length, op.position + op.length));
            model.copy(grown);
            data.copy(grown, op.position);
            model = grown;
          } else if (op.kind === 'truncate') {
            file.truncate(op.size);
            const resized = Buffer.alloc(op.size);
            model.copy(resized, 0, 0, Math.min(model.length, op.size));
            model = resized;
          } else if (op.kind === 'sync') {
            file.syncNow();
            synced = Buffer.from(model);
          } else {
            const target = Buffer.alloc(op.length, 0xee);
            const read = file.read(target, 0, op.length, op.position);
            const expected = model.subarray(Math.min(op.position, model.length), op.position + op.length);
            expect(read).toBe(expected.length);
            expect(target.subarray(0, read).equals(expected)).toBe(true);
          }
          expect(file.size()).toBe(model.length);
        }
        expect(storage.fileBytes('f')!.equals(model)).toBe(true);
        expect(storage.crash({ kind: 'process' }).fileBytes('f')!.equals(model)).toBe(true);
        expect(storage.crash({ kind: 'power' }).fileBytes('f')!.equals(synced)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('corrupt writes across a chunk boundary into both images, and refuses bytes outside the file', () => {
    const storage = new MemoryStorage();
    const file = storage.open('f', { create: true, dsync: false });
    file.write(Buffer.alloc(CHUNK + 100, 1), 0);
    file.syncNow();
    storage.syncDirectory();
    storage.corrupt('f', CHUNK - 2, Buffer.from([7, 7, 7, 7]));
    const expected = Buffer.alloc(CHUNK + 100, 1);
    expected.fill(7, CHUNK - 2, CHUNK + 2);
    expect(storage.fileBytes('f')!.equals(expected)).toBe(true);
    expect(storage.crash({ kind: 'power' }).fileBytes('f')!.equals(expected)).toBe(true);
    expect(() => storage.corrupt('f', CHUNK + 98, Buffer.from([1, 2, 3]))).toThrow(RangeError);
  });
});
