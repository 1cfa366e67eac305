"""Test vectors shared by more than one judge (see README.md here)."""
