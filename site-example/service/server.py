"""site-example's API as a long-running HTTP service, for `[api] backend = "container"`.

The same application as the function (`../api/handler.py`, copied beside this file in the
image): each HTTP request becomes the event API Gateway would give the function, and the
handler's answer becomes the response. Behind API Gateway's private integration the caller is
the `X-Shipit-User` header, which API Gateway sets from the verified Cognito token on every
route that needs a signed-in caller (on the public `/health` the header is the caller's own, and
the handler reads no user there).

    PORT=8080 python3 server.py

Listens on `HOST`, 127.0.0.1 unless set (the image sets 0.0.0.0: a task has a network
namespace of its own). `GET /health` is answered at once; the other routes run the handler one
at a time (it keeps per-request state in a global, as a Lambda environment runs one invocation
at a time). Bodies come with a Content-Length (a chunked one is refused), at most 1 MiB; an
idle connection is dropped after 30 s. SIGTERM, which ECS sends before it stops a task, stops
taking requests and lets those in flight finish.
"""
import http.server
import json
import os
import signal
import sys
import threading
from urllib.parse import parse_qsl, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
if not os.path.exists(os.path.join(HERE, "handler.py")):
    sys.path.insert(0, os.path.join(HERE, "..", "api"))  # this checkout's layout
import handler  # noqa: E402

MAX_BODY = 1024 * 1024
_one_at_a_time = threading.Lock()


class Service(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "site-example"
    sys_version = ""
    timeout = 30

    def answer(self, status, headers, body):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, status, message):
        self.close_connection = True
        self.answer(status, {"Content-Type": "application/json", "Connection": "close"},
                    json.dumps({"error": message}))

    def any(self):
        if self.headers.get("Transfer-Encoding"):
            return self.refuse(501, "a body must come with a Content-Length")
        declared = (self.headers.get("Content-Length") or "0").strip()
        if not declared.isdigit():
            return self.refuse(400, "Bad Request")
        length = int(declared)
        if length > MAX_BODY:
            return self.refuse(413, "Payload Too Large")
        body = self.rfile.read(length).decode("utf-8", "replace") if length else None
        url = urlsplit(self.path)
        if self.command == "GET" and url.path == "/health":
            # Liveness: no store, no wait behind a slow request (the load balancer's check).
            return self.answer(200, {"Content-Type": "application/json",
                                     "Cache-Control": "no-store"}, json.dumps({"ok": True}))
        user = self.headers.get("X-Shipit-User")
        event = {
            "httpMethod": self.command,
            "path": url.path,
            "headers": dict(self.headers.items()),
            "queryStringParameters": dict(parse_qsl(url.query)) or None,
            "body": body,
            "requestContext": {"authorizer": {"claims": {"sub": user}} if user else {}},
        }
        with _one_at_a_time:
            reply = handler.handler(event, None)
        self.answer(reply["statusCode"], reply.get("headers") or {}, reply.get("body") or "")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = any

    def log_message(self, fmt, *args):
        path = urlsplit(getattr(self, "path", "") or "").path
        print(f"{getattr(self, 'command', '-')} {path} {args[1] if len(args) > 1 else ''}",
              flush=True)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for the requests in flight
    block_on_close = True


def main():
    host = os.environ.get("HOST") or "127.0.0.1"
    server = Server((host, int(os.environ.get("PORT") or 8080)), Service)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"site-example service on {host}:{server.server_address[1]}", flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
