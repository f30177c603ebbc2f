/** Test helpers for Ackord and for integrators: storage that models crashes, a virtual clock. */
export type { CrashOptions, StorageFault, StorageOperation } from '../log/memory-storage.js';
export { MemoryStorage } from '../log/memory-storage.js';
export { VirtualClock } from './virtual-clock.js';
