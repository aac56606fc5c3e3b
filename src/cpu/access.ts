// Flags a load/store passes to Cpu.read/write beside the data-abort syndrome bits.

/**
 * Access syndrome bits for loads/stores: the ISS[24:14] a stage-2 data abort reports, plus flags:
 * ACC_UNPRIV for LDTR/STTR (whether that means EL0 permissions is the MMU's rule), ACC_ALIGNED.
 */
export const ACC_UNPRIV = 1 << 30;
export const ACC_ALIGNED = 1 << 29;
