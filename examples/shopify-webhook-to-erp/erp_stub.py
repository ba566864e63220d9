#!/usr/bin/env python3
"""A throwaway ERP for trying examples/shopify-webhook-to-erp.

Listens on 127.0.0.1:9099 (or the port given as the first argument), prints
every order posted to it, and answers 201. A repeat of an Idempotency-Key it
has seen is answered 200 and not printed again, as a real ERP would drop it.
A request without `Authorization: token <ERP_TOKEN>` gets 401.
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = os.environ.get("ERP_TOKEN", "dev-token")
seen = set()


class Erp(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Authorization") != f"token {TOKEN}":
            return self.answer(401, {"error": "bad token"})
        key = self.headers.get("Idempotency-Key")
        if key in seen:
            return self.answer(200, {"status": "duplicate", "key": key})
        seen.add(key)
        order = json.loads(body)
        print(f"{self.path} Idempotency-Key: {key}\n{json.dumps(order, indent=2)}", flush=True)
        self.answer(201, {"status": "created", "order_id": order.get("order_id")})

    def answer(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9099
    print(f"ERP stub on http://127.0.0.1:{port}/ (token {TOKEN!r})", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Erp).serve_forever()
