"""The product's own unit check (its `unit` verifier): greet.py greets Bo."""

import subprocess
import sys

out = subprocess.run([sys.executable, "greet.py", "Bo"], capture_output=True, text=True)
if out.returncode != 0 or out.stdout.strip() != "Hello, Bo":
    print(f"greet.py Bo printed {out.stdout.strip()!r} (exit {out.returncode})")
    sys.exit(1)
print("ok")
