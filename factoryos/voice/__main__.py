"""``python -m factoryos.voice [--host H] [--port P] [--insecure]``: serve the voice service.

The chains come from the environment (``factoryos.voice.chains``). Secure by
default: every request needs the bearer token in ``FACTORYOS_VOICE_TOKEN``;
without it the service refuses to start, unless ``--insecure`` says to serve
without a token, which it then says on stderr at start (the log). It exits 2
when the chains' configuration or the token settings are invalid, 1 on any
other error at start.
"""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from factoryos.errors import FactoryError, InvalidInputError
from factoryos.voice.chains import default_chains
from factoryos.voice.service import TOKEN_ENV, check_token_choice, create_voice_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m factoryos.voice", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8500)
    parser.add_argument(
        "--insecure",
        action="store_true",
        help=f"serve without a token (anyone who can reach the port may use it); "
        f"otherwise {TOKEN_ENV} is required",
    )
    args = parser.parse_args(argv)
    try:
        token = os.environ.get(TOKEN_ENV) or None
        check_token_choice(token, args.insecure)
        stt, tts = default_chains(os.environ)
        app = create_voice_app(stt, tts, token=token, insecure=args.insecure)
    except FactoryError as exc:
        print(f"voice: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, InvalidInputError) else 1
    if args.insecure:
        print(
            f"voice: WARNING: --insecure: serving on {args.host}:{args.port} WITHOUT a token; "
            "anyone who can reach it may use it",
            file=sys.stderr,
            flush=True,
        )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", ws="websockets-sansio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
