// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title EighteenDecimals: an ERC-20 with 18 decimals, for tests only
/// @notice TEST TOKEN. The Rollup refuses it at deployment (`Rollup__TokenDecimals`): one
/// collateral unit is 10^-6 of the quote currency, so only a 6-decimal token maps one to one.
contract EighteenDecimals {
    uint8 public constant decimals = 18;
    mapping(address owner => uint256 amount) public balanceOf;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }
}
