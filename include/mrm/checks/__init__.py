"""Checks: pure computations over a day's scoring log (and its reference) that return results, not frames."""
