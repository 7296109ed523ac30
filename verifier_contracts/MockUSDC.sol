// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title MockUSDC: a development ERC-20 standing in for USDC (6 decimals)
/// @notice DEVELOPMENT TOKEN, NOT MONEY: `mint` has no access control, so anyone can make
/// any amount of it. zkmatch deploys it on local chains as the Rollup's collateral token
/// (`prover.chain.rollup.deploy_mock_usdc`); a real deployment names a real token instead.
/// @dev A plain ERC-20 (EIP-20): `transfer` and `transferFrom` move exactly the amount, return
/// true, and revert on an insufficient balance or allowance; an allowance of
/// `type(uint256).max` is never decreased. Own code, no library.
contract MockUSDC {
    string public constant name = "Mock USD Coin";
    string public constant symbol = "USDC";
    uint8 public constant decimals = 6;

    uint256 public totalSupply;
    mapping(address owner => uint256 amount) public balanceOf;
    mapping(address owner => mapping(address spender => uint256 amount)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    error MockUSDC__InsufficientBalance(address from, uint256 balance, uint256 needed);
    error MockUSDC__InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
    error MockUSDC__ZeroAddress();

    /// @notice Makes `amount` new tokens for `to`. Anyone may call: a development token.
    /// @param to the receiver (not the zero address)
    /// @param amount token units (10^-6 USDC)
    function mint(address to, uint256 amount) external {
        if (to == address(0)) revert MockUSDC__ZeroAddress();
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// @notice Sends `amount` of the caller's tokens to `to`.
    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    /// @notice Lets `spender` move up to `amount` of the caller's tokens.
    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    /// @notice Moves `amount` of `from`'s tokens to `to` within the caller's allowance.
    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < amount) {
                revert MockUSDC__InsufficientAllowance(msg.sender, allowed, amount);
            }
            allowance[from][msg.sender] = allowed - amount;
        }
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        if (to == address(0)) revert MockUSDC__ZeroAddress();
        uint256 balance = balanceOf[from];
        if (balance < amount) revert MockUSDC__InsufficientBalance(from, balance, amount);
        balanceOf[from] = balance - amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
