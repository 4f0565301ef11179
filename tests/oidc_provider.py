"""A small OpenID Connect provider, run by the tests as a process of its own: discovery and JWKS over
HTTP, as a real provider serves them, and a few test-only endpoints to sign tokens and rotate keys.

    python -m tests.oidc_provider

It listens on a free port on 127.0.0.1 and prints the port, alone on a line, once it listens.

- GET  /.well-known/openid-configuration  the discovery document (issuer = http://127.0.0.1:PORT)
- GET  /jwks                              the current public keys (an RSA key, RS256, and an EC key, ES256)
- POST /sign  {"claims": {...}, "alg": "RS256"|"ES256", "kid": optional}   a token signed with the current key
- POST /rotate                             a new RSA key (new kid) replaces the old one in the JWKS
- GET  /stats                              {"jwks_requests": n}
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


class Keys:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation = 0
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        self.rotate()

    def rotate(self) -> None:
        with self.lock:
            self.generation += 1
            self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def rsa_kid(self) -> str:
        return f"rsa-{self.generation}"

    def jwks(self) -> dict:
        with self.lock:
            rsa_jwk = json.loads(RSAAlgorithm.to_jwk(self.rsa_key.public_key()))
            ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec_key.public_key()))
            return {"keys": [{**rsa_jwk, "kid": self.rsa_kid, "alg": "RS256", "use": "sig"},
                             {**ec_jwk, "kid": "ec-1", "alg": "ES256", "use": "sig"}]}

    def sign(self, claims: dict, alg: str, kid: str | None) -> str:
        with self.lock:
            key = self.rsa_key if alg == "RS256" else self.ec_key
            default_kid = self.rsa_kid if alg == "RS256" else "ec-1"
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid or default_kid})

    def rsa_public_pem(self) -> str:
        with self.lock:
            return self.rsa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class Provider(BaseHTTPRequestHandler):
    keys: Keys
    issuer: str
    jwks_requests = 0

    def log_message(self, *_args) -> None:  # quiet
        pass

    def _send(self, document: dict | str, status: int = 200) -> None:
        body = (document if isinstance(document, str) else json.dumps(document)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/.well-known/openid-configuration":
            self._send({"issuer": self.issuer, "jwks_uri": f"{self.issuer}/jwks",
                        "id_token_signing_alg_values_supported": ["RS256", "ES256"]})
        elif self.path == "/jwks":
            type(self).jwks_requests += 1
            self._send(self.keys.jwks())
        elif self.path == "/stats":
            self._send({"jwks_requests": type(self).jwks_requests})
        elif self.path == "/public-key.pem":
            self._send(json.dumps(self.keys.rsa_public_pem()))
        else:
            self._send({"error": "not found"}, 404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/sign":
            self._send({"token": self.keys.sign(request["claims"], request.get("alg", "RS256"), request.get("kid"))})
        elif self.path == "/rotate":
            self.keys.rotate()
            self._send({"kid": self.keys.rsa_kid})
        else:
            self._send({"error": "not found"}, 404)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    port = server.server_address[1]
    Provider.keys = Keys()
    Provider.issuer = f"http://127.0.0.1:{port}"
    print(port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
