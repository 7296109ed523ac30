"""The exchange's reference model: the specification the circuits re-check rule by rule."""
