"""Greets a person by name (the factory's candidates replace this)."""

import sys

print("TODO")
