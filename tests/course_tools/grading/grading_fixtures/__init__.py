"""Inputs of the grader's tests: a tiny self-test assignment and helpers to craft submissions."""
