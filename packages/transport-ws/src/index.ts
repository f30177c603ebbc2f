/**
 * @packageDocumentation
 * WebSocket transport for Ackord (work in progress).
 */
export {};
