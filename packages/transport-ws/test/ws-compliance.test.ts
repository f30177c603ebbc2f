/** The WebSocket transport on 127.0.0.1 passes the shared compliance suite. */
import { transportComplianceTests } from '@ackord/core/testing';
import { wsFixture } from './ws-fixture.js';

transportComplianceTests('ws', () => wsFixture());
