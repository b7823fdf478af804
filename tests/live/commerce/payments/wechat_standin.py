"""A local stand-in for WeChat Pay API v3, started by the tests: it signs and answers as the
real gateway does, with a platform key pair and certificate generated for the test run.

What it does like WeChat Pay: `/v3/certificates` answers its platform certificate encrypted
with the merchant's APIv3 key (AEAD_AES_256_GCM); every answer carries ``Wechatpay-Timestamp``,
``-Nonce``, ``-Serial`` and ``-Signature`` (RSA-SHA256 over ``timestamp\\nnonce\\nbody\\n``);
every request must carry the merchant's ``WECHATPAY2-SHA256-RSA2048`` authorization, checked
against the merchant's public key (``401 SIGN_ERROR`` otherwise); a prepay of an
``out_trade_no`` answers the same ``prepay_id`` again; a refund of an ``out_refund_no`` is made
once. `notify` plays the payer: it posts the payment callback (resource encrypted, body signed)
to the ``notify_url`` the prepay named. Nothing here is a mock of the library under test: the
library talks HTTP to this server as it would to WeChat.
"""

import base64
import datetime
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_AUTH = re.compile(r'(\w+)="([^"]*)"')


def new_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key, as WeChat Pay's merchant and platform keys are."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    """The key as PKCS#8 PEM, as the merchant's ``apiclient_key.pem``."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _sign(key: rsa.RSAPrivateKey, message: str) -> str:
    raw = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode()


def _certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA stand-in")])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


def encrypt(apiv3_key: str, plaintext: str, associated_data: str) -> dict[str, str]:
    """An ``AEAD_AES_256_GCM`` resource as WeChat Pay sends them (nonce: 12 characters)."""
    nonce = secrets.token_hex(6)
    sealed = AESGCM(apiv3_key.encode()).encrypt(
        nonce.encode(), plaintext.encode(), associated_data.encode()
    )
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "nonce": nonce,
        "associated_data": associated_data,
        "ciphertext": base64.b64encode(sealed).decode(),
    }


@dataclass
class StandIn:
    """The stand-in's merchant, keys and what it was asked."""

    mchid: str
    appid: str
    apiv3_key: str
    merchant_public_key: rsa.RSAPublicKey
    platform_key: rsa.RSAPrivateKey = field(default_factory=new_key)
    prepays: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused_signatures: int = 0

    def __post_init__(self) -> None:
        self.certificate = _certificate(self.platform_key)
        self.serial = format(self.certificate.serial_number, "X")

    # ---- the gateway ----

    def app(self) -> Starlette:
        """The gateway's routes."""
        return Starlette(
            routes=[
                Route("/v3/certificates", self._certificates, methods=["GET"]),
                Route("/v3/pay/transactions/jsapi", self._jsapi, methods=["POST"]),
                Route("/v3/refund/domestic/refunds", self._refund, methods=["POST"]),
            ]
        )

    def signed(self, body: dict[str, Any], status: int = 200) -> Response:
        """An answer signed with the platform key, as every gateway answer is."""
        text = json.dumps(body)
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        headers = {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": self.serial,
            "Wechatpay-Signature": _sign(self.platform_key, f"{timestamp}\n{nonce}\n{text}\n"),
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }
        return Response(text, status_code=status, media_type="application/json", headers=headers)

    async def _authorized(self, request: Request) -> tuple[bool, str]:
        body = (await request.body()).decode()
        scheme, _, params = request.headers.get("authorization", "").partition(" ")
        fields = dict(_AUTH.findall(params))
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        message = f"{request.method}\n{path}\n{fields.get('timestamp')}\n"
        message += f"{fields.get('nonce_str')}\n{body}\n"
        try:
            self.merchant_public_key.verify(
                base64.b64decode(fields.get("signature", "")),
                message.encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:  # any failure is a refused signature
            self.refused_signatures += 1
            return False, body
        ok = scheme == "WECHATPAY2-SHA256-RSA2048" and fields.get("mchid") == self.mchid
        return ok, body

    def _refused(self) -> Response:
        return Response(
            json.dumps({"code": "SIGN_ERROR", "message": "signature error"}),
            status_code=401,
            media_type="application/json",
        )

    async def _certificates(self, request: Request) -> Response:
        ok, _ = await self._authorized(request)
        if not ok:
            return self._refused()
        pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode()
        now = datetime.datetime.now(datetime.UTC)
        entry = {
            "serial_no": self.serial,
            "effective_time": (now - datetime.timedelta(days=1)).isoformat(),
            "expire_time": (now + datetime.timedelta(days=365)).isoformat(),
            "encrypt_certificate": encrypt(self.apiv3_key, pem, "certificate"),
        }
        return self.signed({"data": [entry]})

    async def _jsapi(self, request: Request) -> Response:
        ok, body = await self._authorized(request)
        if not ok:
            return self._refused()
        asked = json.loads(body)
        trade = asked["out_trade_no"]
        if trade in self.prepays:
            return self.signed({"prepay_id": self.prepays[trade]["prepay_id"]})
        self.prepays[trade] = {**asked, "prepay_id": f"wx{secrets.token_hex(14)}"}
        return self.signed({"prepay_id": self.prepays[trade]["prepay_id"]})

    async def _refund(self, request: Request) -> Response:
        ok, body = await self._authorized(request)
        if not ok:
            return self._refused()
        asked = json.loads(body)
        paid = [
            p
            for p in self.prepays.values()
            if p.get("transaction_id") == asked.get("transaction_id")
        ]
        if not paid or asked["amount"]["refund"] > paid[0]["amount"]["total"]:
            return self.signed({"code": "PARAM_ERROR", "message": "no such payment"}, status=400)
        if asked["out_refund_no"] not in self.refunds:
            self.refunds[asked["out_refund_no"]] = {
                **asked,
                "refund_id": f"50{secrets.token_hex(10)}",
                "status": "SUCCESS",
            }
        return self.signed(self.refunds[asked["out_refund_no"]])

    # ---- the payer ----

    def callback(
        self,
        out_trade_no: str,
        *,
        signing_key: rsa.RSAPrivateKey | None = None,
        apiv3_key: str | None = None,
        age_s: int = 0,
        mchid: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The payment callback of a prepaid order (headers, body), signed with the platform
        key unless ``signing_key`` says otherwise; a fresh transaction id the first time."""
        prepay = self.prepays[out_trade_no]
        prepay.setdefault("transaction_id", f"42000{secrets.token_hex(10)}")
        resource = {
            "mchid": mchid or self.mchid,
            "appid": self.appid,
            "out_trade_no": out_trade_no,
            "transaction_id": prepay["transaction_id"],
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "success_time": datetime.datetime.now(datetime.UTC).isoformat(),
            "payer": prepay["payer"],
            "amount": {**prepay["amount"], "payer_total": prepay["amount"]["total"]},
        }
        body = json.dumps(
            {
                "id": f"EV-{secrets.token_hex(8)}",
                "create_time": datetime.datetime.now(datetime.UTC).isoformat(),
                "resource_type": "encrypt-resource",
                "event_type": "TRANSACTION.SUCCESS",
                "summary": "支付成功",
                "resource": {
                    "original_type": "transaction",
                    **encrypt(apiv3_key or self.apiv3_key, json.dumps(resource), "transaction"),
                },
            }
        )
        timestamp, nonce = str(int(time.time()) - age_s), secrets.token_hex(16)
        key = signing_key or self.platform_key
        headers = {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": self.serial,
            "Wechatpay-Signature": _sign(key, f"{timestamp}\n{nonce}\n{body}\n"),
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            "Content-Type": "application/json",
        }
        return headers, body.encode()

    async def notify(self, out_trade_no: str, **forged: Any) -> httpx.Response:
        """Pay a prepaid order: post its callback to the ``notify_url`` the prepay named."""
        headers, body = self.callback(out_trade_no, **forged)
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(
                self.prepays[out_trade_no]["notify_url"], content=body, headers=headers
            )
