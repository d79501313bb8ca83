// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ISettlement} from "./ISettlement.sol";

/**
 * @title Meshgate Settlement: roles
 * @notice Who may do what. The owner (two-step transfer) pauses and replaces the operator and the
 * treasury, and cannot move funds; the operator settles, slashes and limits withdrawals; the treasury
 * receives fees and slashed stake.
 */
abstract contract SettlementRoles is ISettlement, Ownable2Step, Pausable {
    address public operator;
    address public treasury;

    modifier onlyOperator() {
        if (msg.sender != operator) revert NotOperator(msg.sender);
        _;
    }

    constructor(address owner_, address operator_, address treasury_) Ownable(owner_) {
        if (operator_ == address(0) || treasury_ == address(0)) revert ZeroAddress();
        operator = operator_;
        treasury = treasury_;
        emit OperatorChanged(operator_);
        emit TreasuryChanged(treasury_);
    }

    function setOperator(address operator_) external onlyOwner {
        if (operator_ == address(0)) revert ZeroAddress();
        operator = operator_;
        emit OperatorChanged(operator_);
    }

    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasuryChanged(treasury_);
    }

    function pause() external onlyOwner {
        _pause();
    }

    function unpause() external onlyOwner {
        _unpause();
    }
}
