// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC3009} from "@openzeppelin/contracts/interfaces/draft-IERC3009.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {SettlementRoles} from "./SettlementRoles.sol";

/**
 * @title Meshgate Settlement
 * @notice Escrow for customer deposits, provider stakes, and periodic batched payouts in USDC.
 *
 * Money flow:
 *  - Customers `deposit` into an account (a bytes32 the gateway's ledger knows). The USDC joins `escrow`.
 *  - Requests are metered off chain. Once per settlement period the operator calls `settle` with the
 *    period's payouts and the gateway fee: `escrow` shrinks by their sum, each provider's `earnings` grow
 *    (pull payments: a transfer to a blacklisted provider cannot block a batch), and the fee goes to the
 *    treasury. `batchRoots` records the Merkle root of the period's receipts; a batch settles once.
 *  - Providers `withdrawEarnings`. Providers `stake` to be routed to; misbehaviour can be `slash`ed to
 *    the treasury, from active stake first and then from stake that is waiting to be withdrawn.
 *  - Customers leave by `requestWithdrawal`, waiting `withdrawalDelay`, then `withdraw`.
 *
 * Trust model: the contract cannot see spending, so `accountDeposits` only bounds a withdrawal. The
 * operator, which holds the ledger, lowers a pending withdrawal to the account's unspent balance with
 * `limitWithdrawal` before it becomes available. `withdrawalDelay` exceeds one settlement period plus the
 * dispute window, so every request made before a withdrawal is settled, and can be disputed, before the
 * money can leave; the same delay holds unstaking, so a provider cannot escape a slash. The operator can
 * move escrow only to providers and the treasury (never to itself), bounded by `escrow`; the owner can
 * pause and replace the operator or treasury, and cannot move funds.
 *
 * The roles live in `SettlementRoles`, the structs, events and errors in `ISettlement`.
 */
contract Settlement is SettlementRoles, ReentrancyGuard {
    using SafeERC20 for IERC20;

    IERC20 public immutable usdc;
    uint64 public immutable settlementPeriod;
    uint64 public immutable disputeWindow;
    uint64 public immutable withdrawalDelay;

    /// @notice Customer funds held: deposits − withdrawals − payouts − fees.
    uint256 public escrow;
    /// @notice Set to the depositor on an account's first deposit; only the owner may withdraw.
    mapping(bytes32 => address) public accountOwner;
    /// @notice Deposited − withdrawn: an upper bound of a withdrawal.
    mapping(bytes32 => uint256) public accountDeposits;
    mapping(bytes32 => Withdrawal) public pendingWithdrawals;
    mapping(address => Stake) public stakes;
    /// @notice Settled, claimable by the provider.
    mapping(address => uint256) public earnings;
    /// @notice batchId → Merkle root of its receipts; nonzero once settled.
    mapping(bytes32 => bytes32) public batchRoots;

    modifier onlyAccountOwner(bytes32 account) {
        if (msg.sender != accountOwner[account]) revert NotAccountOwner(account, msg.sender);
        _;
    }

    constructor(
        IERC20 usdc_,
        address owner_,
        address operator_,
        address treasury_,
        uint64 settlementPeriod_,
        uint64 disputeWindow_,
        uint64 withdrawalDelay_
    ) SettlementRoles(owner_, operator_, treasury_) {
        if (address(usdc_) == address(0)) revert ZeroAddress();
        if (uint256(withdrawalDelay_) <= uint256(settlementPeriod_) + disputeWindow_) revert InvalidDelays();
        usdc = usdc_;
        settlementPeriod = settlementPeriod_;
        disputeWindow = disputeWindow_;
        withdrawalDelay = withdrawalDelay_;
    }

    // ---- customers ----

    /// @notice Deposits `amount` from the caller (who needs an allowance) into `account`.
    function deposit(bytes32 account, uint256 amount) external nonReentrant whenNotPaused {
        _credit(account, msg.sender, amount);
        usdc.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice EIP-2612 permit, then deposit. A permit already used by a front-runner is tolerated:
    /// the deposit then relies on the allowance it set.
    function depositWithPermit(bytes32 account, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
        whenNotPaused
    {
        try IERC20Permit(address(usdc)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _credit(account, msg.sender, amount);
        usdc.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Deposits with an EIP-3009 ReceiveWithAuthorization signed by `from` (anyone may relay it).
    /// The signature does not name the account, so an existing account must belong to `from`: a relayer
    /// can then only choose which of `from`'s accounts (or a new one owned by `from`) is credited.
    function depositWithAuthorization(
        bytes32 account,
        address from,
        uint256 amount,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant whenNotPaused {
        address owner_ = accountOwner[account];
        if (owner_ != address(0) && owner_ != from) revert NotAccountOwner(account, from);
        _credit(account, from, amount);
        IERC3009(address(usdc)).receiveWithAuthorization(
            from, address(this), amount, validAfter, validBefore, nonce, v, r, s
        );
    }

    function requestWithdrawal(bytes32 account, uint256 amount) external whenNotPaused onlyAccountOwner(account) {
        if (amount == 0) revert ZeroAmount();
        uint256 deposits = accountDeposits[account];
        if (amount > deposits) revert ExceedsDeposits(amount, deposits);
        Withdrawal storage w = pendingWithdrawals[account];
        if (w.availableAt != 0) revert WithdrawalAlreadyPending(account);
        uint64 availableAt = uint64(block.timestamp) + withdrawalDelay;
        w.amount = amount;
        w.availableAt = availableAt;
        emit WithdrawalRequested(account, msg.sender, amount, availableAt);
    }

    function cancelWithdrawal(bytes32 account) external onlyAccountOwner(account) {
        if (pendingWithdrawals[account].availableAt == 0) revert NoPendingWithdrawal(account);
        delete pendingWithdrawals[account];
        emit WithdrawalCancelled(account);
    }

    /// @notice The operator lowers a pending withdrawal to what the ledger says is unspent (0 removes it).
    function limitWithdrawal(bytes32 account, uint256 amount) external onlyOperator {
        Withdrawal storage w = pendingWithdrawals[account];
        uint64 availableAt = w.availableAt;
        if (availableAt == 0) revert NoPendingWithdrawal(account);
        if (block.timestamp >= availableAt) revert WithdrawalAlreadyAvailable(availableAt);
        if (amount > w.amount) revert LimitAbovePending(amount, w.amount);
        if (amount == 0) delete pendingWithdrawals[account];
        else w.amount = amount;
        emit WithdrawalLimited(account, amount);
    }

    /// @notice Pays a pending withdrawal once available, capped by `escrow`.
    function withdraw(bytes32 account) external nonReentrant whenNotPaused onlyAccountOwner(account) {
        Withdrawal memory w = pendingWithdrawals[account];
        if (w.availableAt == 0) revert NoPendingWithdrawal(account);
        if (block.timestamp < w.availableAt) revert WithdrawalNotReady(w.availableAt);
        uint256 amount = w.amount < escrow ? w.amount : escrow;
        delete pendingWithdrawals[account];
        escrow -= amount;
        accountDeposits[account] -= amount;
        emit Withdrawn(account, msg.sender, amount);
        usdc.safeTransfer(msg.sender, amount);
    }

    // ---- providers ----

    function stake(uint256 amount) external nonReentrant whenNotPaused {
        if (amount == 0) revert ZeroAmount();
        uint256 total = stakes[msg.sender].amount + amount;
        stakes[msg.sender].amount = total;
        emit Staked(msg.sender, amount, total);
        usdc.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Moves `amount` of active stake to unstaking; a new request adds to it and restarts the clock.
    function requestUnstake(uint256 amount) external whenNotPaused {
        if (amount == 0) revert ZeroAmount();
        Stake storage st = stakes[msg.sender];
        if (amount > st.amount) revert InsufficientStake(amount, st.amount);
        uint64 availableAt = uint64(block.timestamp) + withdrawalDelay;
        st.amount -= amount;
        st.unstaking += amount;
        st.unstakeAvailableAt = availableAt;
        emit UnstakeRequested(msg.sender, amount, availableAt);
    }

    function withdrawStake() external nonReentrant whenNotPaused {
        Stake storage st = stakes[msg.sender];
        uint256 amount = st.unstaking;
        if (amount == 0) revert NothingToWithdraw();
        if (block.timestamp < st.unstakeAvailableAt) revert UnstakeNotReady(st.unstakeAvailableAt);
        st.unstaking = 0;
        st.unstakeAvailableAt = 0;
        emit StakeWithdrawn(msg.sender, amount);
        usdc.safeTransfer(msg.sender, amount);
    }

    /// @notice Active stake (excluding stake being withdrawn): what routing reads.
    function stakeOf(address provider) external view returns (uint256) {
        return stakes[provider].amount;
    }

    function withdrawEarnings() external nonReentrant whenNotPaused {
        uint256 amount = earnings[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        earnings[msg.sender] = 0;
        emit EarningsWithdrawn(msg.sender, amount);
        usdc.safeTransfer(msg.sender, amount);
    }

    // ---- operator ----

    /// @notice Settles one batch: moves Σamounts + fee out of escrow, credits each provider, pays the fee.
    function settle(
        bytes32 batchId,
        bytes32 merkleRoot,
        address[] calldata providers,
        uint256[] calldata amounts,
        uint256 fee
    ) external nonReentrant onlyOperator whenNotPaused {
        if (batchId == bytes32(0) || merkleRoot == bytes32(0)) revert ZeroBatch();
        if (batchRoots[batchId] != bytes32(0)) revert BatchAlreadySettled(batchId);
        uint256 n = providers.length;
        if (n != amounts.length) revert LengthMismatch(n, amounts.length);
        batchRoots[batchId] = merkleRoot;

        uint256 total = fee;
        for (uint256 i; i < n; ++i) {
            address provider = providers[i];
            uint256 amount = amounts[i];
            if (provider == address(0)) revert ZeroAddress();
            total += amount;
            earnings[provider] += amount;
            emit Paid(batchId, provider, amount);
        }
        uint256 held = escrow;
        if (total > held) revert InsufficientEscrow(total, held);
        escrow = held - total;
        emit Settled(batchId, merkleRoot, total, fee, n);
        if (fee != 0) usdc.safeTransfer(treasury, fee);
    }

    function isSettled(bytes32 batchId) external view returns (bool) {
        return batchRoots[batchId] != bytes32(0);
    }

    /// @notice Takes `amount` of a provider's stake (active first, then unstaking) to the treasury.
    function slash(address provider, uint256 amount, bytes32 evidenceHash)
        external
        nonReentrant
        onlyOperator
        whenNotPaused
    {
        if (amount == 0) revert ZeroAmount();
        Stake storage st = stakes[provider];
        uint256 active = st.amount;
        if (amount > active + st.unstaking) revert InsufficientStake(amount, active + st.unstaking);
        if (amount <= active) {
            st.amount = active - amount;
        } else {
            st.amount = 0;
            st.unstaking -= amount - active;
        }
        emit Slashed(provider, amount, evidenceHash);
        usdc.safeTransfer(treasury, amount);
    }

    function _credit(bytes32 account, address owner_, uint256 amount) private {
        if (account == bytes32(0)) revert ZeroAccount();
        if (amount == 0) revert ZeroAmount();
        if (accountOwner[account] == address(0)) accountOwner[account] = owner_;
        accountDeposits[account] += amount;
        escrow += amount;
        emit Deposited(account, owner_, amount);
    }
}
