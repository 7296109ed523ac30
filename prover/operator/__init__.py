"""The operator: its store, its batch loop, crash safety."""
