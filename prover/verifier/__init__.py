"""The independent verifier: Groth16 in Python (py_ecc), and the audit of a chain."""
