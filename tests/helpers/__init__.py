"""Helpers shared by test files of several packages: import them from here, never from another test file."""
