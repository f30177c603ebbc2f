/** The TCP transport on 127.0.0.1 passes the shared compliance suite. */
import { transportComplianceTests } from '@ackord/core/testing';
import { tcpFixture } from './tcp-fixture.js';

transportComplianceTests('tcp', () => tcpFixture());
