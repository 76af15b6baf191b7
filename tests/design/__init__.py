"""Tests of glmlib.design (one module per kind of design)."""
