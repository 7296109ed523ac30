// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title NoReturnToken: an ERC-20 whose transfers return nothing (USDT-style), for tests only
/// @notice TEST TOKEN. `transfer` and `transferFrom` move the amount (reverting when they
/// cannot) and return no data, as Tether's USDT on Ethereum does; the Rollup accepts empty
/// return data. `mint` is open to anyone.
contract NoReturnToken {
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

    function approve(address spender, uint256 amount) external {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
    }

    function transfer(address to, uint256 amount) external {
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        emit Transfer(msg.sender, to, amount);
    }

    function transferFrom(address from, address to, uint256 amount) external {
        allowance[from][msg.sender] -= amount;
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
