/** The example transport passes the same compliance suite as the built-in ones. */
import { transportComplianceTests } from '@ackord/core/testing';
import { unixSocketFixture } from './unix-socket-fixture.js';

transportComplianceTests('unix socket (examples/custom-transport)', () => unixSocketFixture());
