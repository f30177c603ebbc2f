/**
 * @packageDocumentation
 * Ackord's leader election (work in progress).
 */
export {};
