"""Greets a person by name (the factory's candidates replace this)."""

print("TODO")
