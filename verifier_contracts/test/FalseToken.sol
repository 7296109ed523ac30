// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title FalseToken: an ERC-20 that answers false instead of reverting, for tests only
/// @notice TEST TOKEN. While `refusing` (the default), `transferFrom` and `transfer` return
/// false and move nothing, as some old tokens do; the Rollup must treat that as a failed
/// transfer (`Rollup__TransferFailed`). `setRefusing(false)` makes it an honest token, so a
/// test can take a deposit and then refuse the claim. `mint` is open to anyone.
contract FalseToken {
    uint8 public constant decimals = 6;
    bool public refusing = true;
    uint256 public totalSupply;
    mapping(address owner => uint256 amount) public balanceOf;
    mapping(address owner => mapping(address spender => uint256 amount)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function setRefusing(bool refusing_) external {
        refusing = refusing_;
    }

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
        if (refusing) return false;
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        emit Transfer(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        if (refusing) return false;
        allowance[from][msg.sender] -= amount;
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
        return true;
    }
}
