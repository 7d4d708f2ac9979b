// SPDX-License-Identifier: MIT
// Test contract for the dev chain's end-to-end tests. Compiled once with solc-js 0.8.28
// (see compile.js); the output is committed as Store.json so tests need no compiler.
pragma solidity 0.8.28;

contract Store {
    event Stored(address indexed by, uint256 indexed key, uint256 value);

    error TooLarge(uint256 value, uint256 max);

    mapping(uint256 => uint256) public values;
    uint256 public count;

    function set(uint256 key, uint256 value) external {
        require(value != 0, "zero value");
        if (value > 1e18) revert TooLarge(value, 1e18);
        values[key] = value;
        count++;
        emit Stored(msg.sender, key, value);
    }

    function get(uint256 key) external view returns (uint256) {
        return values[key];
    }
}
