// What ID_AA64DFR0_EL1 advertises of the self-hosted debug architecture: the numbers the
// system-register table, the comparators (pe/debug.ts) and the ID value are all made from.
// QEMU 7.2's -cpu max: six breakpoints of which the two highest are context-aware, four watchpoints.
export const BREAKPOINTS = 6;
export const WATCHPOINTS = 4;
export const CONTEXT_BREAKPOINTS = 2;

/**
 * ID_AA64DFR0_EL1: DebugVer 6 (Armv8.0 debug: the later versions add external-debug and
 * halting features, which hypstep has no port for; QEMU says 9), no trace, no PMU, and the
 * comparators above (BRPs, WRPs, CTX_CMPs hold the numbers minus one).
 */
export const ID_AA64DFR0 =
  0x6n | (BigInt(BREAKPOINTS - 1) << 12n) | (BigInt(WATCHPOINTS - 1) << 20n) | (BigInt(CONTEXT_BREAKPOINTS - 1) << 28n);
