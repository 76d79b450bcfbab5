"""Serve Torn. The async mode is set up first, before anything else is imported."""

import argparse
import gc
import os
import sys
import warnings


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Serve the Torn queue and displays.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--db", help="SQLite file (overrides QUEUE_DATABASE)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not os.environ.get("QUEUE_SECRET_KEY") and not os.environ.get("QUEUE_DEMO"):
        # Outside the demo the key that signs staff sessions must be chosen and kept by
        # whoever runs the server, not generated behind their back.
        sys.exit(
            "run.py: set QUEUE_SECRET_KEY (e.g. `python -c 'import secrets; print("
            "secrets.token_hex(32))'`), or QUEUE_DEMO=1 for the demo (`make run`), which"
            " generates one into instance/secret_key."
        )
    if args.db:
        os.environ["QUEUE_DATABASE"] = args.db
    mode = os.environ.get("QUEUE_ASYNC_MODE", "eventlet")
    if mode == "eventlet":
        # Chosen knowingly (the contract's default server); see README, "Async mode".
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
        import eventlet

        eventlet.monkey_patch()
    from queue_app import create_app, serving, socketio, start_background

    sock = None
    if mode == "eventlet":
        # The port first: a second server on a taken port must stop here, before it starts
        # background work on the same database.
        try:
            sock = serving.listen(args.host, args.port)
        except serving.PortInUse as error:
            sys.exit(f"run.py: cannot serve: {error}")
    app = create_app()
    start_background(app)
    # Everything loaded so far lives as long as the process: keep it out of the collector's
    # full passes, which otherwise stall every connection for a tenth of a second.
    gc.freeze()
    # The server logs "... http://HOST:PORT" once it listens, then one line per request.
    if sock is not None:
        ceiling = serving.connection_ceiling(app.config["MAX_CONNECTIONS"])
        serving.serve_eventlet(app, sock, ceiling)
    else:
        socketio.run(
            app, host=args.host, port=args.port, log_output=True, allow_unsafe_werkzeug=True
        )


if __name__ == "__main__":
    main()
