// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title NaiveBottleRegistry: the gas baseline that one storage slot per bottle costs
/// @notice Not part of the ledger. `bench/gas.py` measures it beside {Inventory-commissionLot} to show
/// what committing a lot by one Merkle root saves. It is deliberately lean, so the comparison flatters
/// the naive design rather than the ledger: no per-bottle event, an immutable registrar instead of a
/// membership lookup, and one SSTORE per bottle (code → lot).
contract NaiveBottleRegistry {
    string public constant VERSION = "1.0.0";

    address public immutable registrar;
    mapping(bytes32 code => uint256 lot) public lotOf;

    error NotRegistrar(address caller);
    error BottleAlreadyRegistered(bytes32 code);
    error ZeroLot();

    constructor(address registrar_) {
        registrar = registrar_;
    }

    /// @notice Registers one bottle: the one-transaction-per-bottle design.
    /// Requirements: caller is the registrar; `lot` is non-zero; the code is new.
    function register(bytes32 code, uint256 lot) external {
        if (msg.sender != registrar) revert NotRegistrar(msg.sender);
        if (lot == 0) revert ZeroLot();
        _store(code, lot);
    }

    /// @notice Registers many bottles of one lot in one transaction.
    /// Requirements: caller is the registrar; `lot` is non-zero; every code is new.
    function registerBatch(bytes32[] calldata codes, uint256 lot) external {
        if (msg.sender != registrar) revert NotRegistrar(msg.sender);
        if (lot == 0) revert ZeroLot();
        for (uint256 i = 0; i < codes.length; ++i) {
            _store(codes[i], lot);
        }
    }

    function _store(bytes32 code, uint256 lot) private {
        // The duplicate check is nearly free: the SLOAD pays the cold access the SSTORE would pay anyway.
        if (lotOf[code] != 0) revert BottleAlreadyRegistered(code);
        lotOf[code] = lot;
    }
}
