// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {PoseidonT4} from "poseidon-solidity/PoseidonT4.sol";
import {PoseidonT5} from "poseidon-solidity/PoseidonT5.sol";

/// @notice The Groth16 verifier snarkjs exports from the batch circuit's final zkey.
interface IGroth16Verifier {
    function verifyProof(
        uint256[2] calldata pA,
        uint256[2][2] calldata pB,
        uint256[2] calldata pC,
        uint256[9] calldata pubSignals
    ) external view returns (bool);
}

/// @notice The part of ERC-20 the Rollup reads.
interface IERC20Balance {
    function balanceOf(address owner) external view returns (uint256);
}

/// @notice ERC-20's transfers, for their selectors only: the Rollup calls them with low-level
/// calls, since some tokens return nothing (`Rollup._checkedTokenCall`).
interface IERC20Transfers {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @notice circomlibjs's generated Poseidon contract of 3 inputs (circomlib's Poseidon(3)).
interface IPoseidon3 {
    function poseidon(uint256[3] memory input) external pure returns (uint256);
}

/// @title zkmatch Rollup: the chain's copy of the exchange state, moved only by proven batches
/// @notice Holds the account tree's root, the batch number, the last batch's timestamp, the
/// registered markets, price-feed key and operator key (through `configHash`), the inbox and
/// how much of it batches consumed, and the verifier of the batch circuit. `submitBatch`
/// rebuilds the nine public inputs of the batch proof from this storage and the call's new
/// root, timestamp, inbox end, deposit end and exit list, so a proof can choose none of them:
///   [0] oldRoot     = stateRoot
///   [1] newRoot     = the argument
///   [2] batchInfo   = batchNumber * 2^80 + lastTimestamp * 2^40 + timestamp
/// Batches are numbered from 0, as the exchange model numbers them.
///   [3] configHash  = the registered configuration's hash:
///       h_0 = Poseidon(TAG_CONFIG, feedKeyX, feedKeyY),
///       h_{m+1} = Poseidon(TAG_CONFIG_MARKET, h_m, tickSize + imrBps * 2^40
///                 + mmrBps * 2^54 + makerFeePpm * 2^68 + takerFeePpm * 2^88
///                 + fundingRateCap * 2^108),
///       configHash = Poseidon(TAG_CONFIG_OPERATOR, h_M,
///                             Poseidon(TAG_OPERATOR_KEY, operatorKeyX, operatorKeyY))
///   [4] inboxBefore = inboxConsumedChain: the inbox chain after the messages earlier
///       batches consumed (0 at genesis)
///   [5] inboxAfter  = the inbox chain after the argument inboxEnd messages
///   [6] depositsBefore = depositChainAt(depositsConsumed): the deposit queue's chain
///       after the deposits earlier batches consumed (0 at genesis)
///   [7] depositsAfter  = depositChainAt(depositEnd)
///   [8] exitsHash   = the chain over the argument exits: x_0 = 0,
///       x_{j+1} = Poseidon(x_j, TAG_EXIT, amount * 2^160 + recipient)
///
/// Collateral: `deposit` pulls an ERC-20 (`collateralToken`, one token unit = one collateral
/// unit) and queues (account, key, amount, depositor) on a Poseidon chain,
/// d_0 = 0, d_{i+1} = Poseidon(d_i, keyX, keyY, TAG_DEPOSIT * 2^248 + account * 2^216
/// + amount * 2^160 + depositor), naming the account the key was given before or the next
/// free one; every batch consumes the queue's next deposits in order (at most
/// `depositsPerBatch`). A batch's exits are owed to their recipients once it is accepted
/// (`claimable`), and `claim` pays them. The token's balance here is the collateral in the
/// state, plus `totalClaimable`, plus the deposits queued and not yet consumed.
///
/// Forced inclusion: every inbox message and deposit has a deadline (`messageDeadline`,
/// `depositDeadline`: arrival + forcedDelay + batchInterval per full batch of its queue
/// ahead of it); a batch that leaves an overdue one out is refused, and once one is overdue
/// anyone may `freeze`: no batch, message or deposit is accepted any more, and queued
/// deposits go back to their depositors (`refundDeposit`). docs/flows.md.
///
/// The inbox: anyone may post an order, a cancel or a withdrawal encrypted to the operator's
/// Baby Jubjub key
/// (`sendMessage`, docs/inbox.md). The contract checks the message's values and appends it to
/// a Poseidon hash chain, h_0 = 0, h_{i+1} = Poseidon3(Poseidon4(h_i, ephY, c0, c1), c2, c3)
/// (poseidon-solidity's PoseidonT5 and PoseidonT4: circomlib's Poseidon(4) and Poseidon(3),
/// zero capacity; deployed libraries, linked at deployment). Storage: `inboxCount` (sharing
/// the slot of batchNumber, lastTimestamp, mode and inboxConsumed), `inboxHead` =
/// h_inboxCount, and `checkpoints[n]` = h_n at every multiple n of `messagesPerBatch` and
/// wherever `sealInbox` cut. Every batch consumes the messages [inboxConsumed, inboxEnd):
/// at most `messagesPerBatch` of them (an empty range is allowed), ending where the contract
/// knows the chain (the head or a checkpoint); the proof processes exactly those messages,
/// because its inboxBefore and inboxAfter are the chain at both ends, read from storage.
/// The operator key inside configHash binds the proof to whoever can decrypt the messages.
/// docs/settlement.md describes the protocol; prover/chain/ mirrors every encoding in Python.
contract Rollup {
    /// @notice The BN254 scalar field: every public input must be below it.
    uint256 public constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// The bound on an ephemeral key's x (2^252): of the two roots x and r - x at a given y
    /// at most one is below it, so the chain hashes only ephY (docs/inbox.md, "Keys").
    uint256 internal constant SMALL_X_BOUND = 1 << 252;
    /// @notice The BN254 base field: every proof coordinate must be below it.
    uint256 public constant BASE_FIELD =
        21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @notice Timestamps and batch numbers are below 2^40 (the circuit's TIME_BITS).
    uint256 public constant TIME_LIMIT = 1 << 40;
    /// @notice Tick sizes are below 2^40 (the circuit's PRICE_BITS).
    uint256 public constant PRICE_LIMIT = 1 << 40;
    /// @notice Domain-separation tags of the configuration hash (first Poseidon input).
    uint256 public constant TAG_CONFIG = 10;
    uint256 public constant TAG_CONFIG_MARKET = 11;
    uint256 public constant TAG_CONFIG_OPERATOR = 13;
    uint256 public constant TAG_OPERATOR_KEY = 14;
    /// @notice Limits shared with the circuit (docs/protocol.md).
    uint256 public constant MAX_MARKETS = 8;
    uint256 public constant MARGIN_SCALE = 10_000;
    uint256 public constant FEE_SCALE = 1_000_000;
    /// @notice `mode` while batches are accepted.
    uint8 public constant MODE_ACTIVE = 1;
    /// @notice `mode` once `freeze` ran: no batch, message or deposit is accepted any more
    /// (docs/flows.md, "Forced inclusion and the frozen mode").
    uint8 public constant MODE_FROZEN = 2;
    /// @notice Baby Jubjub (twisted Edwards over the scalar field): a*x^2 + y^2 = 1 + d*x^2*y^2.
    uint256 public constant BABYJUB_A = 168700;
    uint256 public constant BABYJUB_D = 168696;
    /// @notice The inbox holds fewer than 2^64 - 1 messages (counts and indices are uint64).
    uint64 public constant MAX_INBOX_COUNT = type(uint64).max - 1;
    /// @notice Domain-separation tags of the deposit queue's record and of an exit
    /// (prover/exchange/flows.py).
    uint256 public constant TAG_DEPOSIT = 19;
    uint256 public constant TAG_EXIT = 20;
    /// @notice A deposit's or an exit's amount is below 2^56 token units.
    uint256 public constant AMOUNT_LIMIT = 1 << 56;
    /// @notice The collateral token's decimals: one token unit is one collateral unit.
    uint256 public constant COLLATERAL_DECIMALS = 6;

    /// @notice One market's registered parameters (docs/protocol.md, section 6).
    /// @param tickSize price tick, 1 <= tickSize < 2^40
    /// @param imrBps initial margin ratio, basis points; mmrBps < imrBps <= 10^4
    /// @param mmrBps maintenance margin ratio, basis points; 0 < mmrBps
    /// @param makerFeePpm maker fee, parts per million, <= 10^6
    /// @param takerFeePpm taker fee, parts per million, <= 10^6
    /// @param fundingRateCap the most the funding index may move per second, in 10^-9 of
    ///        the mark (the proof bounds |F*new - F*old| * 10^9 <= cap * mark * elapsed)
    struct Market {
        uint64 tickSize;
        uint16 imrBps;
        uint16 mmrBps;
        uint32 makerFeePpm;
        uint32 takerFeePpm;
        uint64 fundingRateCap;
    }

    /// @notice Where the chain of batches starts (one struct, as InboxParams and FlowParams:
    /// a constructor of twelve or more parameters is too deep for the legacy code
    /// generator's stack, in the ABI decoder).
    /// @param root the account tree's root before batch 0 (below the field)
    /// @param timestamp the time before batch 0 (below 2^40): batch 0's is later
    struct GenesisParams {
        uint256 root;
        uint64 timestamp;
    }

    /// @notice The inbox's constructor parameters (one struct: see GenesisParams).
    /// @param operatorKeyX the operator's Baby Jubjub public key, x
    /// @param operatorKeyY the operator's Baby Jubjub public key, y
    /// @param messagesPerBatch the batch circuit's message capacity E (its entry count)
    struct InboxParams {
        uint256 operatorKeyX;
        uint256 operatorKeyY;
        uint64 messagesPerBatch;
    }

    /// @notice The collateral's constructor parameters.
    /// @param token the ERC-20 deposits pull and claims pay (a contract)
    /// @param depositsPerBatch the batch circuit's deposit capacity (at least 1)
    /// @param accountBits the account tree's depth in bits (2 to 32): account indices are
    ///        below 2^accountBits
    /// @param firstAccount the index the first new key gets (at least 2: 0 and 1 are the fee
    ///        account and the insurance fund; the genesis accounts below it)
    /// @param forcedDelay seconds within which a batch must consume an inbox message or a
    ///        deposit that arrives with nothing ahead of it (at least 1)
    /// @param batchInterval seconds the operator is allowed per batch for the queue ahead of
    ///        an item (at least 1): an item with q unconsumed ones ahead of it in its queue
    ///        has `forcedDelay + (q / perBatch) * batchInterval` seconds, so that flooding a
    ///        queue delays the items behind the flood but cannot freeze an operator that
    ///        keeps one batch per batchInterval
    struct FlowParams {
        address token;
        uint64 depositsPerBatch;
        uint8 accountBits;
        uint32 firstAccount;
        uint64 forcedDelay;
        uint64 batchInterval;
    }

    /// @dev What `submitBatch` logs besides the number and the proof (a struct: fourteen
    /// values are too many for the legacy code generator's stack). Static fields only, so
    /// the event's data is the same words as with flat arguments.
    struct BatchRecord {
        uint256 oldRoot;
        uint256 newRoot;
        uint64 previousTimestamp;
        uint64 timestamp;
        uint256 configHash;
        uint64 inboxStart;
        uint64 inboxEnd;
        uint256 inboxAfter;
        uint64 depositStart;
        uint64 depositEnd;
        uint256 depositsAfter;
        uint256 exitsHash;
    }

    IGroth16Verifier public immutable verifier;
    IPoseidon3 public immutable poseidon3;
    /// @notice The only address that may submit batches.
    address public immutable operator;
    /// @notice The only address that may change the registered markets or feed key.
    address public immutable admin;
    /// @notice keccak256 of the verification key the verifier embeds (prover/chain/vkey.py).
    bytes32 public immutable verificationKeyHash;
    /// @notice The account tree's root before batch 0 (where a verifier starts).
    uint256 public immutable genesisRoot;
    /// @notice The time before batch 0; batch 0's timestamp is later.
    uint64 public immutable genesisTimestamp;
    /// @notice The operator's Baby Jubjub public key, the one inbox messages are encrypted to
    /// (every batch proof shows the operator's private key matches it, through configHash).
    uint256 public immutable operatorKeyX;
    uint256 public immutable operatorKeyY;
    /// @notice Poseidon(TAG_OPERATOR_KEY, operatorKeyX, operatorKeyY), inside every configHash.
    uint256 public immutable operatorKeyHash;
    /// @notice The batch circuit's message capacity (its entry count E): a checkpoint of the
    /// inbox chain is stored after every `messagesPerBatch` messages.
    uint64 public immutable messagesPerBatch;
    /// @notice The ERC-20 of the collateral: deposits pull it, claims pay it.
    address public immutable collateralToken;
    /// @notice The batch circuit's deposit capacity: a batch consumes at most this many.
    uint64 public immutable depositsPerBatch;
    /// @notice Seconds a message or deposit may wait for a batch, with nothing ahead of it.
    uint64 public immutable forcedDelay;
    /// @notice Seconds allowed per batch for the queue ahead of a message or deposit.
    uint64 public immutable batchInterval;
    /// @notice Account indices are below 2^accountBits (the account tree's depth).
    uint8 public immutable accountBits;
    /// @notice The index the first new key got (the genesis accounts are below it).
    uint32 public immutable firstAccount;

    /// @notice Root of the account tree after the last accepted batch (genesis at first).
    uint256 public stateRoot;
    /// @notice Number of batches accepted so far, which is the next batch's number (below
    /// 2^40, as the circuit's batchInfo packs it: 40 bits leave room in the slot for
    /// inboxConsumed).
    uint40 public batchNumber;
    /// @notice Timestamp of the last accepted batch (the genesis timestamp at first).
    uint64 public lastTimestamp;
    /// @notice MODE_ACTIVE while the Rollup accepts batches. It shares a storage slot with
    /// batchNumber, lastTimestamp, inboxCount and inboxConsumed and is never zero, so that
    /// slot is never zero either and batch 0 costs what every later batch costs (no
    /// zero-to-non-zero write).
    uint8 public mode;
    /// @notice Number of inbox messages so far (the next message's 0-based index). In the
    /// same never-zero slot as mode, so the first message pays no zero-to-non-zero write for
    /// it, and a message reads and writes one slot for its count.
    uint64 public inboxCount;
    /// @notice Number of inbox messages the accepted batches consumed: the next batch's
    /// messages start at this index. In the slot submitBatch reads and writes anyway.
    uint64 public inboxConsumed;
    /// @notice Hash of the registered markets, feed key and operator key; public input [3] of
    /// every batch.
    uint256 public configHash;
    /// @notice The price feed's Baby Jubjub public key; its signature on the batch's prices is
    /// checked in the circuit against the key bound through configHash.
    uint256 public feedKeyX;
    uint256 public feedKeyY;
    Market[] internal _markets;
    /// @notice The inbox hash chain after the last message (0 before the first).
    uint256 public inboxHead;
    /// @notice The inbox hash chain after `count` messages, stored at every multiple of
    /// messagesPerBatch and wherever sealInbox cut (0: not stored; a chain value of 0 after
    /// a message would be a Poseidon preimage of 0).
    mapping(uint64 count => uint256 chain) public checkpoints;
    /// @notice The inbox chain after inboxConsumed messages (0 at genesis): public input [4]
    /// (inboxBefore) of the next batch.
    uint256 public inboxConsumedChain;
    /// @notice The index the next new key gets (firstAccount at first, never zero; up to
    /// 2^accountBits, when the tree is full). In one slot with depositCount and
    /// depositsConsumed, so that slot is never zero either.
    uint64 public nextAccount;
    /// @notice Number of deposits queued so far (the next deposit's 0-based number).
    uint64 public depositCount;
    /// @notice Number of deposits the accepted batches consumed: the next batch's deposits
    /// start at this number.
    uint64 public depositsConsumed;
    /// @notice The deposit queue's chain after `count` deposits, for every count so far
    /// (0 at count 0).
    mapping(uint64 count => uint256 chain) public depositChainAt;
    /// @dev keccak256(abi.encode(keyX, keyY)) => the key's account index + 1 (0: none yet).
    mapping(bytes32 keyHash => uint64 indexPlusOne) private _accountOf;
    /// @notice Tokens owed to each address by accepted batches' exits, until claimed.
    mapping(address recipient => uint256 amount) public claimable;
    /// @notice The sum of `claimable` over every address.
    uint256 public totalClaimable;
    /// @notice The time by which a batch must have consumed each inbox message (by index)
    /// and each deposit (by number): its arrival plus forcedDelay plus batchInterval for
    /// every full batch of its queue ahead of it when it arrived.
    mapping(uint64 index => uint64 time) public messageDeadline;
    mapping(uint64 number => uint64 time) public depositDeadline;
    /// @notice When the Rollup was frozen (0 while active).
    uint64 public frozenAt;
    /// @notice Deposits no batch consumed, refunded in the frozen mode (once each).
    mapping(uint64 number => bool done) public depositRefunded;

    /// @notice A new configuration took effect (at deployment, or by `registerMarkets`).
    event ConfigRegistered(
        uint256 indexed configHash,
        uint64 fromBatch,
        uint256 feedKeyX,
        uint256 feedKeyY,
        Market[] markets
    );

    /// @notice Batch `batchNumber` moved the root and consumed inbox messages
    /// [inboxStart, inboxEnd), after which the chain is `inboxAfter` (its inboxBefore is the
    /// previous batch's inboxAfter, 0 for batch 0); with the configuration in force this is
    /// everything needed to rebuild its public inputs and re-check its proof.
    /// Likewise it consumed deposits [depositStart, depositEnd), after which the queue's
    /// chain is `depositsAfter` (its depositsBefore is depositChainAt(depositStart), the
    /// previous batch's depositsAfter), and its exits hash to `exitsHash` (each exit is also
    /// an `ExitCredited` event of the same transaction, in order).
    event BatchSubmitted(uint64 indexed batchNumber, BatchRecord batch, uint256[8] proof);

    /// @notice Deposit `number` (0-based) entered the queue for `account`; `chain` is the
    /// queue's chain after it.
    event Deposited(
        uint64 indexed number,
        uint32 indexed account,
        uint256 keyX,
        uint256 keyY,
        uint256 amount,
        address depositor,
        uint256 chain
    );

    /// @notice Batch `batchNumber`'s exit owes `amount` tokens to `recipient` (claimable now).
    event ExitCredited(uint64 indexed batchNumber, address indexed recipient, uint256 amount);

    /// @notice `recipient` was paid the `amount` it was owed.
    event Claimed(address indexed recipient, uint256 amount);

    /// @notice The Rollup froze at `stateRoot` after batch `batchNumber - 1`: the message at
    /// `inboxConsumed` or the deposit at `depositsConsumed` waited past `forcedDelay`.
    event Frozen(uint64 batchNumber, uint256 stateRoot, uint64 inboxConsumed,
                 uint64 depositsConsumed, uint64 time);

    /// @notice A deposit no batch consumed went back to its depositor (frozen mode).
    event DepositRefunded(uint64 indexed number, address indexed depositor, uint256 amount);

    /// @notice Message `index` (0-based) entered the inbox; `chain` is the chain after it.
    event MessageSent(
        uint64 indexed index, uint256 ephX, uint256 ephY, uint256[4] ciphertext, uint256 chain
    );

    /// @notice `sealInbox` stored the chain after `count` messages as a checkpoint.
    event InboxSealed(uint64 count, uint256 chain);

    error Rollup__NotOperator(address caller);
    error Rollup__NotAdmin(address caller);
    error Rollup__ZeroAddress();
    error Rollup__NotInField(uint256 value);
    error Rollup__TimestampNotAfterLast(uint64 timestamp, uint64 lastTimestamp);
    error Rollup__TimestampInFuture(uint64 timestamp, uint256 blockTimestamp);
    error Rollup__TimestampTooLarge(uint64 timestamp);
    error Rollup__InvalidProof();
    error Rollup__NoMarkets();
    error Rollup__TooManyMarkets(uint256 count);
    error Rollup__BadMarket(uint256 index);
    error Rollup__BatchNumberExhausted();
    error Rollup__NotOnCurve(uint256 x, uint256 y);
    error Rollup__EphemeralKeyXTooLarge(uint256 ephX);
    error Rollup__InboxFull();
    error Rollup__ZeroMessagesPerBatch();
    error Rollup__InboxEndBeforeConsumed(uint64 inboxEnd, uint64 inboxConsumed);
    error Rollup__InboxEndAfterCount(uint64 inboxEnd, uint64 inboxCount);
    error Rollup__InboxRangeTooLong(uint64 inboxStart, uint64 inboxEnd, uint64 messagesPerBatch);
    error Rollup__InboxChainUnknown(uint64 inboxEnd);
    error Rollup__TokenNotContract(address token);
    error Rollup__ZeroDepositsPerBatch();
    error Rollup__BadAccountBits(uint8 accountBits);
    error Rollup__BadFirstAccount(uint32 firstAccount);
    error Rollup__BadDepositAmount(uint256 amount);
    error Rollup__TreeFull();
    error Rollup__TokenDecimals(address token);
    error Rollup__Frozen();
    error Rollup__NotFrozen();
    error Rollup__NotOverdue();
    error Rollup__OverdueLeftOut(uint64 inboxEnd, uint64 depositEnd);
    error Rollup__BadForcedDelay();
    error Rollup__DepositConsumed(uint64 number);
    error Rollup__DepositAlreadyRefunded(uint64 number);
    error Rollup__NoSuchDeposit(uint64 number);
    error Rollup__DepositQueueFull();
    error Rollup__TransferFailed();
    error Rollup__TransferShortfall(uint256 expected, uint256 received);
    error Rollup__DepositEndBeforeConsumed(uint64 depositEnd, uint64 depositsConsumed);
    error Rollup__DepositEndAfterCount(uint64 depositEnd, uint64 depositCount);
    error Rollup__DepositRangeTooLong(
        uint64 depositStart, uint64 depositEnd, uint64 depositsPerBatch
    );
    error Rollup__BadExit(uint256 index, uint256 packed);
    error Rollup__NothingToClaim(address recipient);

    /// @notice Deploys the rollup at its genesis state.
    /// @param verifier_ the snarkjs-exported Groth16 verifier of the batch circuit
    /// @param poseidon3_ circomlibjs's Poseidon contract of 3 inputs
    /// @param operator_ the address allowed to submit batches
    /// @param admin_ the address allowed to change the configuration
    /// @param verificationKeyHash_ keccak256 of the embedded verification key
    /// @param genesis_ the account tree's root before batch 0, and the time batch 0 must be
    ///        later than
    /// @param feedKeyX_ the price feed's public key, x
    /// @param feedKeyY_ the price feed's public key, y
    /// @param markets_ the markets, in market-id order
    /// @param inbox_ the operator's Baby Jubjub key (below the field, on the curve) and the
    ///        batch circuit's message capacity (at least 1)
    /// @param flows_ the collateral token, the batch circuit's deposit capacity, the account
    ///        tree's depth and the first index a new key gets (see FlowParams)
    constructor(
        IGroth16Verifier verifier_,
        IPoseidon3 poseidon3_,
        address operator_,
        address admin_,
        bytes32 verificationKeyHash_,
        GenesisParams memory genesis_,
        uint256 feedKeyX_,
        uint256 feedKeyY_,
        Market[] memory markets_,
        InboxParams memory inbox_,
        FlowParams memory flows_
    ) {
        if (
            address(verifier_) == address(0) || address(poseidon3_) == address(0)
                || operator_ == address(0) || admin_ == address(0)
        ) revert Rollup__ZeroAddress();
        uint256 genesisRoot_ = genesis_.root;
        uint64 genesisTimestamp_ = genesis_.timestamp;
        if (genesisRoot_ >= SNARK_SCALAR_FIELD) revert Rollup__NotInField(genesisRoot_);
        if (genesisTimestamp_ >= TIME_LIMIT) revert Rollup__TimestampTooLarge(genesisTimestamp_);
        uint256 keyX = inbox_.operatorKeyX;
        uint256 keyY = inbox_.operatorKeyY;
        if (keyX >= SNARK_SCALAR_FIELD) revert Rollup__NotInField(keyX);
        if (keyY >= SNARK_SCALAR_FIELD) revert Rollup__NotInField(keyY);
        if (!_onCurve(keyX, keyY)) revert Rollup__NotOnCurve(keyX, keyY);
        if (inbox_.messagesPerBatch == 0) revert Rollup__ZeroMessagesPerBatch();
        _checkFlows(flows_);
        verifier = verifier_;
        poseidon3 = poseidon3_;
        operator = operator_;
        admin = admin_;
        verificationKeyHash = verificationKeyHash_;
        genesisRoot = genesisRoot_;
        genesisTimestamp = genesisTimestamp_;
        operatorKeyX = keyX;
        operatorKeyY = keyY;
        operatorKeyHash = poseidon3_.poseidon([TAG_OPERATOR_KEY, keyX, keyY]);
        messagesPerBatch = inbox_.messagesPerBatch;
        collateralToken = flows_.token;
        depositsPerBatch = flows_.depositsPerBatch;
        forcedDelay = flows_.forcedDelay;
        batchInterval = flows_.batchInterval;
        accountBits = flows_.accountBits;
        firstAccount = flows_.firstAccount;
        nextAccount = flows_.firstAccount;
        stateRoot = genesisRoot_;
        lastTimestamp = genesisTimestamp_;
        mode = MODE_ACTIVE;
        _register(feedKeyX_, feedKeyY_, markets_);
    }

    /// @notice Accepts batch `batchNumber` if `proof` proves it from the current root,
    /// consuming inbox messages [inboxConsumed, inboxEnd) and deposits [depositsConsumed,
    /// depositEnd), and owing each of `exits` to its recipient.
    /// @dev Public inputs are rebuilt here (see the contract's notice); the proof is
    /// snarkjs's (pA, pB, pC) flattened: a.x, a.y, b.x.c1, b.x.c0, b.y.c1, b.y.c0, c.x, c.y.
    /// @param newRoot the account tree's root after the batch
    /// @param timestamp the batch's time: after the last batch's, not after this block's
    /// @param inboxEnd the inbox count after the batch's messages: from inboxConsumed to
    ///        inboxCount, at most messagesPerBatch more than inboxConsumed, and either
    ///        inboxConsumed (no message) or a count whose chain the contract knows (the
    ///        head or a checkpoint: `inboxChainAt`)
    /// @param depositEnd the deposit count after the batch's deposits: from depositsConsumed
    ///        to depositCount, at most depositsPerBatch more than depositsConsumed
    /// @param exits the batch's exits in order, each `amount * 2^160 + recipient` with
    ///        1 <= amount < 2^56
    /// @param proof the Groth16 proof
    function submitBatch(
        uint256 newRoot,
        uint64 timestamp,
        uint64 inboxEnd,
        uint64 depositEnd,
        uint256[] calldata exits,
        uint256[8] calldata proof
    ) external {
        if (msg.sender != operator) revert Rollup__NotOperator(msg.sender);
        if (mode != MODE_ACTIVE) revert Rollup__Frozen();
        if (newRoot >= SNARK_SCALAR_FIELD) revert Rollup__NotInField(newRoot);
        BatchRecord memory batch;
        batch.previousTimestamp = lastTimestamp;
        if (timestamp <= batch.previousTimestamp) {
            revert Rollup__TimestampNotAfterLast(timestamp, batch.previousTimestamp);
        }
        if (timestamp > block.timestamp) {
            revert Rollup__TimestampInFuture(timestamp, block.timestamp);
        }
        if (timestamp >= TIME_LIMIT) revert Rollup__TimestampTooLarge(timestamp);
        uint64 number = batchNumber;
        if (number + 1 >= TIME_LIMIT) revert Rollup__BatchNumberExhausted();
        uint256[9] memory inputs =
            _publicInputs(batch, newRoot, timestamp, inboxEnd, depositEnd, exits);
        // A message or deposit past its deadline must be in this batch (docs/flows.md): the
        // first one the batch leaves unconsumed may not be overdue.
        if (inboxEnd < inboxCount && messageDeadline[inboxEnd] < block.timestamp) {
            revert Rollup__OverdueLeftOut(inboxEnd, depositEnd);
        }
        if (depositEnd < depositCount && depositDeadline[depositEnd] < block.timestamp) {
            revert Rollup__OverdueLeftOut(inboxEnd, depositEnd);
        }
        _verify(inputs, proof);

        stateRoot = newRoot;
        batchNumber = uint40(number + 1); // below 2^40: checked above
        lastTimestamp = timestamp;
        inboxConsumed = inboxEnd;
        inboxConsumedChain = batch.inboxAfter;
        depositsConsumed = depositEnd;
        if (exits.length != 0) _credit(number, exits);
        emit BatchSubmitted(number, batch, proof);
    }

    /// @notice Replaces the markets and feed key from the next batch on (the operator key
    /// stays); event-logged.
    /// @param feedKeyX_ the price feed's public key, x
    /// @param feedKeyY_ the price feed's public key, y
    /// @param markets_ the markets, in market-id order (as many as the circuit has)
    function registerMarkets(uint256 feedKeyX_, uint256 feedKeyY_, Market[] calldata markets_)
        external
    {
        if (msg.sender != admin) revert Rollup__NotAdmin(msg.sender);
        _register(feedKeyX_, feedKeyY_, markets_);
    }

    /// @notice The registered markets, in market-id order.
    /// @return markets_ every market's parameters
    function markets() external view returns (Market[] memory markets_) {
        return _markets;
    }

    /// @notice The public inputs the next batch's proof must have, for a given new root,
    /// timestamp, inbox end, deposit end and exits (what `submitBatch` builds; for operators
    /// and verifiers). Reverts as `submitBatch` does when `inboxEnd`, `depositEnd` or an exit
    /// is not acceptable; the timestamp is not checked here.
    /// @param newRoot the root after the batch
    /// @param timestamp the batch's time
    /// @param inboxEnd the inbox count after the batch's messages (see `submitBatch`)
    /// @param depositEnd the deposit count after the batch's deposits (see `submitBatch`)
    /// @param exits the batch's exits, packed (see `submitBatch`)
    /// @return inputs oldRoot, newRoot, batchInfo, configHash, inboxBefore, inboxAfter,
    ///         depositsBefore, depositsAfter, exitsHash
    function nextPublicInputs(
        uint256 newRoot,
        uint64 timestamp,
        uint64 inboxEnd,
        uint64 depositEnd,
        uint256[] calldata exits
    ) external view returns (uint256[9] memory inputs) {
        BatchRecord memory batch;
        batch.previousTimestamp = lastTimestamp;
        return _publicInputs(batch, newRoot, timestamp, inboxEnd, depositEnd, exits);
    }

    // --- collateral in and out (docs/settlement.md, "Deposits and exits") ----------------

    /// @notice Deposits `amount` tokens for the account of Baby Jubjub key (keyX, keyY): the
    /// index this key was given before, else the next free one. The caller must have
    /// approved the Rollup for `amount` of `collateralToken`; the Rollup must receive exactly
    /// `amount` (a fee-on-transfer token is refused). The deposit waits in the queue until a
    /// batch consumes it; that batch credits the account, or refunds the amount to the
    /// depositor as an exit (docs/flows.md).
    /// @param keyX the key's x, below the field
    /// @param keyY the key's y, below the field; (keyX, keyY) on Baby Jubjub (the circuit
    ///        checks the subgroup)
    /// @param amount token units, 1 <= amount < 2^56
    function deposit(uint256 keyX, uint256 keyY, uint256 amount) external {
        if (mode != MODE_ACTIVE) revert Rollup__Frozen();
        if (keyX >= SNARK_SCALAR_FIELD) revert Rollup__NotInField(keyX);
        if (keyY >= SNARK_SCALAR_FIELD) revert Rollup__NotInField(keyY);
        if (!_onCurve(keyX, keyY)) revert Rollup__NotOnCurve(keyX, keyY);
        if (amount == 0 || amount >= AMOUNT_LIMIT) revert Rollup__BadDepositAmount(amount);
        uint64 number = depositCount;
        if (number == type(uint64).max) revert Rollup__DepositQueueFull();
        bytes32 keyHash = keccak256(abi.encode(keyX, keyY));
        uint64 known = _accountOf[keyHash];
        uint64 index;
        if (known != 0) {
            index = known - 1;
        } else {
            index = nextAccount;
            if (index >> accountBits != 0) revert Rollup__TreeFull();
        }
        // The only external call, to the immutable token. A token that re-entered here
        // (another deposit, a claim) would move this contract's balance by more or less
        // than `amount`, and this deposit would revert with Rollup__TransferShortfall.
        _pull(amount);
        if (known == 0) {
            nextAccount = index + 1;
            _accountOf[keyHash] = index + 1;
        }
        uint256 packed = (TAG_DEPOSIT << 248) | (uint256(index) << 216) | (amount << 160)
            | uint256(uint160(msg.sender));
        uint256 chain = PoseidonT5.hash([depositChainAt[number], keyX, keyY, packed]);
        depositCount = number + 1;
        depositChainAt[number + 1] = chain;
        depositDeadline[number] = _deadline(number - depositsConsumed, depositsPerBatch);
        emit Deposited(number, uint32(index), keyX, keyY, amount, msg.sender, chain);
    }

    /// @notice Pays `recipient` everything accepted batches' exits owe it. Anyone may call
    /// (the tokens go to `recipient`, never to the caller).
    /// @param recipient the address owed
    function claim(address recipient) external {
        uint256 amount = claimable[recipient];
        if (amount == 0) revert Rollup__NothingToClaim(recipient);
        claimable[recipient] = 0;
        totalClaimable -= amount;
        _checkedTokenCall(abi.encodeCall(IERC20Transfers.transfer, (recipient, amount)));
        emit Claimed(recipient, amount);
    }

    /// @notice The account index the Rollup gave key (keyX, keyY), if it gave one.
    /// @return known whether a deposit named this key
    /// @return index its account index (0 when not known)
    function accountOf(uint256 keyX, uint256 keyY)
        external
        view
        returns (bool known, uint32 index)
    {
        uint64 stored = _accountOf[keccak256(abi.encode(keyX, keyY))];
        if (stored == 0) return (false, 0);
        return (true, uint32(stored - 1));
    }

    /// @notice Appends a message to the inbox: an order or cancel encrypted to the operator
    /// (docs/inbox.md). Anyone may send; the contract cannot read it, it only checks that the
    /// values are well-formed and chains them.
    /// @dev Stores a checkpoint when the new count is a multiple of messagesPerBatch.
    /// @param ephX the ephemeral Baby Jubjub key's x: below 2^252 (the root the circuit takes)
    /// @param ephY the ephemeral key's y (below the field; (ephX, ephY) on the curve)
    /// @param ciphertext the Poseidon cipher's 4 elements (c3 authenticates), below the field
    function sendMessage(uint256 ephX, uint256 ephY, uint256[4] calldata ciphertext) external {
        if (mode != MODE_ACTIVE) revert Rollup__Frozen();
        if (ephX >= SNARK_SCALAR_FIELD) revert Rollup__NotInField(ephX);
        if (ephY >= SNARK_SCALAR_FIELD) revert Rollup__NotInField(ephY);
        for (uint256 i = 0; i < 4; i++) {
            if (ciphertext[i] >= SNARK_SCALAR_FIELD) revert Rollup__NotInField(ciphertext[i]);
        }
        if (ephX >= SMALL_X_BOUND) revert Rollup__EphemeralKeyXTooLarge(ephX);
        if (!_onCurve(ephX, ephY)) revert Rollup__NotOnCurve(ephX, ephY);
        uint64 index = inboxCount;
        if (index >= MAX_INBOX_COUNT) revert Rollup__InboxFull();

        uint256 chain = PoseidonT4.hash(
            [
                PoseidonT5.hash([inboxHead, ephY, ciphertext[0], ciphertext[1]]),
                ciphertext[2],
                ciphertext[3]
            ]
        );
        uint64 count = index + 1;
        inboxHead = chain;
        inboxCount = count;
        messageDeadline[index] = _deadline(index - inboxConsumed, messagesPerBatch);
        if (count % messagesPerBatch == 0) checkpoints[count] = chain;
        emit MessageSent(index, ephX, ephY, ciphertext, chain);
    }

    // --- forced inclusion and the frozen mode (docs/flows.md) ----------------------------

    /// @notice Whether the oldest inbox message or deposit no batch consumed is past its
    /// deadline (then anyone may `freeze`).
    /// @return late true when a message or a deposit is past its deadline
    function overdue() public view returns (bool late) {
        uint64 consumed = inboxConsumed;
        if (consumed < inboxCount && messageDeadline[consumed] < block.timestamp) return true;
        uint64 deposits = depositsConsumed;
        return deposits < depositCount && depositDeadline[deposits] < block.timestamp;
    }

    /// @dev The deadline of an item arriving now with `ahead` unconsumed items before it in a
    /// queue a batch consumes `perBatch` of (see FlowParams).
    function _deadline(uint64 ahead, uint64 perBatch) private view returns (uint64) {
        uint256 deadline = block.timestamp + uint256(forcedDelay)
            + (uint256(ahead) / perBatch) * uint256(batchInterval);
        return deadline > type(uint64).max ? type(uint64).max : uint64(deadline);
    }

    /// @notice Freezes the Rollup when a message or a deposit is overdue: the operator did
    /// not serve it in time. Anyone may call. From then on no batch, message or deposit is
    /// accepted; the last accepted root stays, and deposits no batch consumed are refunded
    /// (`refundDeposit`).
    function freeze() external {
        if (mode != MODE_ACTIVE) revert Rollup__Frozen();
        if (!overdue()) revert Rollup__NotOverdue();
        mode = MODE_FROZEN;
        frozenAt = uint64(block.timestamp);
        emit Frozen(batchNumber, stateRoot, inboxConsumed, depositsConsumed, frozenAt);
    }

    /// @notice In the frozen mode, gives a deposit no batch consumed back to its depositor
    /// (as a claimable amount): the caller names the deposit (its `Deposited` event), the
    /// contract checks it against the queue's stored chain. Anyone may call, once per deposit.
    /// @param number the deposit's number (>= depositsConsumed)
    /// @param keyX the deposit's key, x
    /// @param keyY the deposit's key, y
    /// @param account the account the Rollup named
    /// @param amount the amount
    /// @param depositor who deposited (where the amount goes)
    function refundDeposit(
        uint64 number,
        uint256 keyX,
        uint256 keyY,
        uint32 account,
        uint256 amount,
        address depositor
    ) external {
        if (mode != MODE_FROZEN) revert Rollup__NotFrozen();
        if (number < depositsConsumed) revert Rollup__DepositConsumed(number);
        if (number >= depositCount) revert Rollup__NoSuchDeposit(number);
        if (depositRefunded[number]) revert Rollup__DepositAlreadyRefunded(number);
        if (amount == 0 || amount >= AMOUNT_LIMIT) revert Rollup__NoSuchDeposit(number);
        uint256 packed = (TAG_DEPOSIT << 248) | (uint256(account) << 216) | (amount << 160)
            | uint256(uint160(depositor));
        if (PoseidonT5.hash([depositChainAt[number], keyX, keyY, packed])
                != depositChainAt[number + 1]) revert Rollup__NoSuchDeposit(number);
        depositRefunded[number] = true;
        claimable[depositor] += amount;
        totalClaimable += amount;
        emit DepositRefunded(number, depositor, amount);
    }

    /// @notice Stores the inbox chain at the current count as a checkpoint, so a batch can end
    /// there while messages keep arriving. Anyone may call; with no messages it only emits.
    function sealInbox() external {
        uint64 count = inboxCount;
        uint256 chain = inboxHead;
        if (count != 0) checkpoints[count] = chain;
        emit InboxSealed(count, chain);
    }

    /// @notice The inbox chain after `count` messages, if the contract knows it: at 0 (the
    /// empty chain), at the current count (the head), and at every stored checkpoint.
    /// @param count a number of messages
    /// @return chain the chain after `count` messages (0 when not known)
    /// @return known whether the contract knows it
    function inboxChainAt(uint64 count) external view returns (uint256 chain, bool known) {
        return _chainAt(count, inboxCount);
    }

    /// @dev The chain after `count` messages when the inbox holds `current`, if known.
    function _chainAt(uint64 count, uint64 current)
        private
        view
        returns (uint256 chain, bool known)
    {
        if (count == 0) return (0, true);
        if (count == current) return (inboxHead, true);
        if (count > current) return (0, false);
        chain = checkpoints[count];
        known = chain != 0;
    }

    /// @dev The next batch's public inputs (the contract's notice), filling `batch` with what
    /// BatchSubmitted logs; `batch.previousTimestamp` must be set. Reverts if a range or an
    /// exit is not acceptable.
    function _publicInputs(
        BatchRecord memory batch,
        uint256 newRoot,
        uint64 timestamp,
        uint64 inboxEnd,
        uint64 depositEnd,
        uint256[] calldata exits
    ) private view returns (uint256[9] memory inputs) {
        (batch.inboxStart, inputs[4], inputs[5]) = _inboxRange(inboxEnd, inboxCount);
        (batch.depositStart, inputs[6], inputs[7]) = _depositRange(depositEnd);
        inputs[8] = _exitsHash(exits);
        inputs[0] = stateRoot;
        inputs[1] = newRoot;
        inputs[2] = (uint256(batchNumber) << 80) | (uint256(batch.previousTimestamp) << 40)
            | uint256(timestamp);
        inputs[3] = configHash;
        batch.oldRoot = inputs[0];
        batch.newRoot = newRoot;
        batch.timestamp = timestamp;
        batch.configHash = inputs[3];
        batch.inboxEnd = inboxEnd;
        batch.inboxAfter = inputs[5];
        batch.depositEnd = depositEnd;
        batch.depositsAfter = inputs[7];
        batch.exitsHash = inputs[8];
    }

    /// @dev Reverts unless `proof` (eight words below the base field) verifies for `inputs`.
    function _verify(uint256[9] memory inputs, uint256[8] calldata proof) private view {
        for (uint256 i = 0; i < 8; i++) {
            if (proof[i] >= BASE_FIELD) revert Rollup__NotInField(proof[i]);
        }
        bool ok = verifier.verifyProof(
            [proof[0], proof[1]],
            [[proof[2], proof[3]], [proof[4], proof[5]]],
            [proof[6], proof[7]],
            inputs
        );
        if (!ok) revert Rollup__InvalidProof();
    }

    /// @dev The next batch's deposit range [start, depositEnd) and the queue's chain at both
    /// ends; reverts if the range is not one a batch may consume.
    function _depositRange(uint64 depositEnd)
        private
        view
        returns (uint64 start, uint256 before, uint256 after_)
    {
        start = depositsConsumed;
        uint64 count = depositCount;
        if (depositEnd < start) revert Rollup__DepositEndBeforeConsumed(depositEnd, start);
        if (depositEnd > count) revert Rollup__DepositEndAfterCount(depositEnd, count);
        if (depositEnd - start > depositsPerBatch) {
            revert Rollup__DepositRangeTooLong(start, depositEnd, depositsPerBatch);
        }
        before = depositChainAt[start];
        after_ = depositEnd == start ? before : depositChainAt[depositEnd];
    }

    /// @dev x_0 = 0, x_{j+1} = Poseidon(x_j, TAG_EXIT, packed_j); reverts on an exit whose
    /// amount is 0 or not below 2^56 (above bit 216).
    function _exitsHash(uint256[] calldata exits) private pure returns (uint256 chain) {
        for (uint256 j = 0; j < exits.length; j++) {
            uint256 packed = exits[j];
            if (packed >> 160 == 0 || packed >> 216 != 0) revert Rollup__BadExit(j, packed);
            chain = PoseidonT4.hash([chain, TAG_EXIT, packed]);
        }
    }

    /// @dev Owes each exit's amount to its recipient (after the proof verified).
    function _credit(uint64 number, uint256[] calldata exits) private {
        uint256 total = 0;
        for (uint256 j = 0; j < exits.length; j++) {
            uint256 packed = exits[j];
            address recipient = address(uint160(packed));
            uint256 amount = packed >> 160;
            claimable[recipient] += amount;
            total += amount;
            emit ExitCredited(number, recipient, amount);
        }
        totalClaimable += total;
    }

    /// @dev Takes exactly `amount` tokens from the caller: Rollup__TransferFailed if
    /// transferFrom fails (see `_checkedTokenCall`), Rollup__TransferShortfall if this
    /// contract's balance moved by anything else (a fee-on-transfer token).
    function _pull(uint256 amount) private {
        IERC20Balance token = IERC20Balance(collateralToken);
        uint256 before = token.balanceOf(address(this));
        _checkedTokenCall(
            abi.encodeCall(IERC20Transfers.transferFrom, (msg.sender, address(this), amount))
        );
        uint256 after_ = token.balanceOf(address(this));
        if (after_ < before || after_ - before != amount) {
            revert Rollup__TransferShortfall(amount, after_ < before ? 0 : after_ - before);
        }
    }

    /// @dev Calls the token with `data` (transfer or transferFrom); Rollup__TransferFailed
    /// if the call reverts or returns anything but nothing (tokens such as USDT return no
    /// value) or exactly the ABI encoding of true.
    function _checkedTokenCall(bytes memory data) private {
        (bool ok, bytes memory returned) = collateralToken.call(data);
        if (
            !ok
                || (returned.length != 0
                    && (returned.length != 32 || abi.decode(returned, (uint256)) != 1))
        ) revert Rollup__TransferFailed();
    }

    /// @dev The FlowParams rules (see the struct).
    function _checkFlows(FlowParams memory flows_) private view {
        if (flows_.token == address(0)) revert Rollup__ZeroAddress();
        if (flows_.token.code.length == 0) revert Rollup__TokenNotContract(flows_.token);
        // One token unit is one collateral unit (6 decimals, docs/flows.md): a token with
        // other decimals would make every amount wrong by a power of ten.
        (bool answered, bytes memory data) =
            flows_.token.staticcall(abi.encodeWithSignature("decimals()"));
        if (!answered || data.length != 32 || abi.decode(data, (uint256)) != COLLATERAL_DECIMALS) {
            revert Rollup__TokenDecimals(flows_.token);
        }
        if (flows_.depositsPerBatch == 0) revert Rollup__ZeroDepositsPerBatch();
        if (flows_.forcedDelay == 0 || flows_.batchInterval == 0) revert Rollup__BadForcedDelay();
        // Even, as the batch circuit's D (a quaternary tree): an index past the circuit's
        // tree could never be proven and would jam the deposit queue.
        if (flows_.accountBits < 2 || flows_.accountBits > 32 || flows_.accountBits % 2 != 0) {
            revert Rollup__BadAccountBits(flows_.accountBits);
        }
        if (flows_.firstAccount < 2 || uint256(flows_.firstAccount) >> flows_.accountBits != 0) {
            revert Rollup__BadFirstAccount(flows_.firstAccount);
        }
    }

    /// @dev The next batch's inbox range [start, inboxEnd) and the chain at both ends, when
    /// the inbox holds `count` messages; reverts if the range is not one a batch may consume.
    /// An empty range (inboxEnd = start) ends at the stored inboxConsumedChain, known even
    /// when later messages made start neither the head nor a checkpoint.
    function _inboxRange(uint64 inboxEnd, uint64 count)
        private
        view
        returns (uint64 start, uint256 before, uint256 after_)
    {
        start = inboxConsumed;
        if (inboxEnd < start) revert Rollup__InboxEndBeforeConsumed(inboxEnd, start);
        if (inboxEnd > count) revert Rollup__InboxEndAfterCount(inboxEnd, count);
        if (inboxEnd - start > messagesPerBatch) {
            revert Rollup__InboxRangeTooLong(start, inboxEnd, messagesPerBatch);
        }
        before = inboxConsumedChain;
        if (inboxEnd == start) return (start, before, before);
        bool known;
        (after_, known) = _chainAt(inboxEnd, count);
        if (!known) revert Rollup__InboxChainUnknown(inboxEnd);
    }

    /// @dev Whether (x, y), both below the field, is on Baby Jubjub.
    function _onCurve(uint256 x, uint256 y) private pure returns (bool) {
        uint256 x2 = mulmod(x, x, SNARK_SCALAR_FIELD);
        uint256 y2 = mulmod(y, y, SNARK_SCALAR_FIELD);
        uint256 lhs = addmod(mulmod(BABYJUB_A, x2, SNARK_SCALAR_FIELD), y2, SNARK_SCALAR_FIELD);
        uint256 rhs = addmod(
            1, mulmod(BABYJUB_D, mulmod(x2, y2, SNARK_SCALAR_FIELD), SNARK_SCALAR_FIELD),
            SNARK_SCALAR_FIELD
        );
        return lhs == rhs;
    }

    function _register(uint256 keyX, uint256 keyY, Market[] memory markets_) private {
        uint256 count = markets_.length;
        if (count == 0) revert Rollup__NoMarkets();
        if (count > MAX_MARKETS) revert Rollup__TooManyMarkets(count);
        if (keyX >= SNARK_SCALAR_FIELD) revert Rollup__NotInField(keyX);
        if (keyY >= SNARK_SCALAR_FIELD) revert Rollup__NotInField(keyY);
        delete _markets;
        uint256 hash = poseidon3.poseidon([TAG_CONFIG, keyX, keyY]);
        for (uint256 m = 0; m < count; m++) {
            Market memory market = markets_[m];
            if (
                market.tickSize == 0 || market.tickSize >= PRICE_LIMIT || market.mmrBps == 0
                    || market.mmrBps >= market.imrBps || market.imrBps > MARGIN_SCALE
                    || market.makerFeePpm > FEE_SCALE || market.takerFeePpm > FEE_SCALE
            ) revert Rollup__BadMarket(m);
            uint256 packed = uint256(market.tickSize) | (uint256(market.imrBps) << 40)
                | (uint256(market.mmrBps) << 54) | (uint256(market.makerFeePpm) << 68)
                | (uint256(market.takerFeePpm) << 88) | (uint256(market.fundingRateCap) << 108);
            hash = poseidon3.poseidon([TAG_CONFIG_MARKET, hash, packed]);
            _markets.push(market);
        }
        hash = poseidon3.poseidon([TAG_CONFIG_OPERATOR, hash, operatorKeyHash]);
        configHash = hash;
        feedKeyX = keyX;
        feedKeyY = keyY;
        emit ConfigRegistered(hash, batchNumber, keyX, keyY, markets_);
    }
}
