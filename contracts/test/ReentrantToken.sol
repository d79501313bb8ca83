// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title ReentrantToken (tests only)
 * @notice A malicious ERC20: once armed, its next transfer calls `target` with `data` before returning,
 * and bubbles up a revert. Used as Settlement's `usdc` to prove the reentrancy guard holds. `exec` lets
 * the token itself act as operator, provider or account owner, so the reentrant call passes access control.
 */
contract ReentrantToken is ERC20 {
    address private _target;
    bytes private _data;

    constructor() ERC20("Reentrant", "REE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice The next token transfer calls `target` with `data` (once).
    function arm(address target, bytes calldata data) external {
        _target = target;
        _data = data;
    }

    /// @notice Calls `target` as this contract, bubbling up a revert.
    function exec(address target, bytes calldata data) external returns (bytes memory) {
        return _call(target, data);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (_data.length == 0) return;
        bytes memory data = _data;
        delete _data;
        _call(_target, data);
    }

    function _call(address target, bytes memory data) private returns (bytes memory ret) {
        bool ok;
        (ok, ret) = target.call(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}
