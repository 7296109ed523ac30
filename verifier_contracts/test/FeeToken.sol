// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title FeeToken: a fee-on-transfer ERC-20, for tests only
/// @notice TEST TOKEN. `transferFrom` delivers 99% of the amount and burns 1% (rounded down),
/// as fee-on-transfer tokens do; the Rollup must refuse a deposit it did not receive in full
/// (`Rollup__TransferShortfall`). `mint` is open to anyone.
contract FeeToken {
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    mapping(address owner => uint256 amount) public balanceOf;
    mapping(address owner => mapping(address spender => uint256 amount)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        emit Transfer(msg.sender, to, amount);
        return true;
    }

    /// @notice Takes `amount` from `from`, delivers `amount - amount / 100` to `to`.
    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        allowance[from][msg.sender] -= amount;
        balanceOf[from] -= amount;
        uint256 fee = amount / 100;
        balanceOf[to] += amount - fee;
        totalSupply -= fee;
        emit Transfer(from, to, amount - fee);
        emit Transfer(from, address(0), fee);
        return true;
    }
}
