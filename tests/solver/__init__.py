"""Tests of glmlib.solver (one module per solver module)."""
