"""The circuit pipeline: build, witness inputs, prove, verify; r1cs tools."""
