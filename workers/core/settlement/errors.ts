/**
 * The chain jobs' failures that the jobs tell apart with `instanceof`: adapters throw them, the jobs
 * map them to an operator's error (errors.jobBlocked) or carry on, without importing adapters.
 */

/** The call would revert now (e.g. the contract is paused): nothing was signed or sent. */
export class WouldRevertError extends Error {}

/** The period would pay more than the contract holds: nothing is recorded (e.g. credit grants not backed by deposits). */
export class EscrowShortfallError extends Error {}

/** A block the chain sync already booked has changed: a reorg deeper than the confirmations. */
export class DeepReorgError extends Error {}

/** The chain's node could not be reached (refused, timed out, a gateway before it failing): a later try may work. */
export class ChainUnavailableError extends Error {}

/** The chain's node answered, with an error (a JSON-RPC error, a reverted read). */
export class ChainRpcError extends Error {}
