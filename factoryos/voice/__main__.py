"""``python -m factoryos.voice [--host H] [--port P]``: serve the voice service.

The chains come from the environment (``factoryos.voice.chains``); with
``FACTORYOS_VOICE_TOKEN`` set, every request needs that bearer token. It exits
2 when the chains' configuration is invalid, 1 on any other error at start.
"""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from factoryos.errors import FactoryError, InvalidInputError
from factoryos.voice.chains import default_chains
from factoryos.voice.service import create_voice_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m factoryos.voice", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8500)
    args = parser.parse_args(argv)
    try:
        stt, tts = default_chains(os.environ)
    except FactoryError as exc:
        print(f"voice: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, InvalidInputError) else 1
    app = create_voice_app(stt, tts, token=os.environ.get("FACTORYOS_VOICE_TOKEN") or None)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", ws="websockets-sansio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
