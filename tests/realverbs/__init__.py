"""Tests of shift_core.realverbs (a package so its module names may repeat other directories')."""
