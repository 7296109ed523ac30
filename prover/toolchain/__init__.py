"""Subprocess wrappers for the external tools (circom, snarkjs, solc, anvil), the build cache
and powers of tau. Each tool module has pure ``build_command()`` functions and ``run``-style
functions that call them with no shell, in their own working folder, and check every output.
"""
