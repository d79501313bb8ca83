// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title Meshgate Settlement: types, events and errors
 * @notice The vocabulary `Settlement` speaks (its ABI's events and errors), kept apart from the logic
 * so that the contract reads as its money flow.
 */
interface ISettlement {
    struct Withdrawal {
        uint256 amount;
        uint64 availableAt;
    }

    struct Stake {
        uint256 amount;
        uint256 unstaking;
        uint64 unstakeAvailableAt;
    }

    event OperatorChanged(address operator);
    event TreasuryChanged(address treasury);
    event Deposited(bytes32 indexed account, address indexed from, uint256 amount);
    event WithdrawalRequested(bytes32 indexed account, address indexed owner, uint256 amount, uint64 availableAt);
    event WithdrawalCancelled(bytes32 indexed account);
    event WithdrawalLimited(bytes32 indexed account, uint256 amount);
    event Withdrawn(bytes32 indexed account, address indexed to, uint256 amount);
    event Staked(address indexed provider, uint256 amount, uint256 total);
    event UnstakeRequested(address indexed provider, uint256 amount, uint64 availableAt);
    event StakeWithdrawn(address indexed provider, uint256 amount);
    event Settled(bytes32 indexed batchId, bytes32 merkleRoot, uint256 total, uint256 fee, uint256 payouts);
    event Paid(bytes32 indexed batchId, address indexed provider, uint256 amount);
    event EarningsWithdrawn(address indexed provider, uint256 amount);
    event Slashed(address indexed provider, uint256 amount, bytes32 evidenceHash);

    error InvalidDelays();
    error ZeroAddress();
    error ZeroAmount();
    error ZeroAccount();
    error NotOperator(address caller);
    error NotAccountOwner(bytes32 account, address caller);
    error ExceedsDeposits(uint256 amount, uint256 deposits);
    error WithdrawalAlreadyPending(bytes32 account);
    error NoPendingWithdrawal(bytes32 account);
    error WithdrawalNotReady(uint64 availableAt);
    error WithdrawalAlreadyAvailable(uint64 availableAt);
    error LimitAbovePending(uint256 amount, uint256 pending);
    error InsufficientStake(uint256 amount, uint256 available);
    error NothingToWithdraw();
    error UnstakeNotReady(uint64 availableAt);
    error ZeroBatch();
    error BatchAlreadySettled(bytes32 batchId);
    error LengthMismatch(uint256 providers, uint256 amounts);
    error InsufficientEscrow(uint256 total, uint256 escrow);
}
