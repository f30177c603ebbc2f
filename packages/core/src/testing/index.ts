/**
 * Test helpers for Ackord and for integrators: storage that models crashes, a virtual clock, the
 * transport compliance suite, certificates made with openssl for TLS tests.
 */
export type { CrashOptions, StorageFault, StorageOperation } from '../log/memory-storage.js';
export { MemoryStorage } from '../log/memory-storage.js';
export {
  MEMORY_LINK_MAX_QUEUED,
  MEMORY_MAX_FRAME_BYTES,
  MemoryNetwork,
  MemoryTransport,
} from './memory-transport.js';
export { createTestPki, type TestCertificate, type TestPki } from './test-certificates.js';
export {
  EventRecorder,
  type RecordedEvent,
  type TransportFixture,
  type TransportFixtureFactory,
  transportComplianceTests,
  waitFor,
} from './transport-compliance.js';
export { VirtualClock } from './virtual-clock.js';
