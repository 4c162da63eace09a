"""``python -m agentel.testing [--port N]``: run the scripted LLM server in the foreground."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence

from ._server import ScriptedLLMServer


def main(argv: Sequence[str] | None = None) -> int:
    """Serve AUTO-mode replies until interrupted with Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m agentel.testing",
        description="Scripted OpenAI/Anthropic-compatible LLM server (AUTO replies).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free port)")
    args = parser.parse_args(argv)
    server = ScriptedLLMServer(host=args.host, port=args.port)
    try:
        server.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"agentel scripted LLM server listening on {server.url}")
    print(f"  OpenAI:    OPENAI_BASE_URL={server.openai_base_url}  OPENAI_API_KEY=test")
    print(f"  Anthropic: ANTHROPIC_BASE_URL={server.anthropic_base_url}  ANTHROPIC_API_KEY=test")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print("stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
