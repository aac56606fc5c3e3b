// hypstep's GDB remote serial protocol package: the stub (server) and a client that
// speaks to any stub, hypstep's or QEMU's.
export * from './packet.js';
export * from './target.js';
export * from './tdesc.js';
export * from './monitor.js';
export * from './commands.js';
export * from './agent.js';
export { Session, ERR, supportedFeatures } from './session.js';
export { GdbServer, type GdbServerOptions, type RunEnd } from './server.js';
export * from './client.js';
