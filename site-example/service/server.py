"""site-example's API as a long-running HTTP service, for `[api] backend = "container"`.

The same application as the function (`../api/handler.py`, copied beside this file in the
image): each HTTP request becomes the event API Gateway would give the function, and the
handler's answer becomes the response. Behind API Gateway's private integration the caller is
the `X-Shipit-User` header, which API Gateway sets from the verified Cognito token on every
route that needs a signed-in caller (on the public `/health` the header is the caller's own, and
the handler reads no user there).

    PORT=8080 python3 server.py

Listens on 0.0.0.0 in a container (its own network namespace) and on 127.0.0.1 elsewhere
(`HOST` overrides). One request runs the handler at a time (it keeps per-request state in a
global, as a Lambda environment runs one invocation at a time); SIGTERM, which ECS sends
before it stops a task, stops it cleanly.
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

    def answer(self, status, headers, body):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def any(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return self.answer(413, {"Content-Type": "application/json"},
                               json.dumps({"error": "Payload Too Large"}))
        body = self.rfile.read(length).decode("utf-8", "replace") if length else None
        url = urlsplit(self.path)
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
        print(f"{self.command} {urlsplit(self.path).path} {args[1] if len(args) > 1 else ''}",
              flush=True)


def main():
    in_container = os.path.exists("/.dockerenv") or os.environ.get("AWS_EXECUTION_ENV") == "AWS_ECS_FARGATE"
    host = os.environ.get("HOST") or ("0.0.0.0" if in_container else "127.0.0.1")
    server = http.server.ThreadingHTTPServer((host, int(os.environ.get("PORT") or 8080)), Service)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"site-example service on {host}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
