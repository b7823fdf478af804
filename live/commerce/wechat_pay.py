"""WeChat Pay API v3 (``LIVE_PAYMENT_PROVIDER=wechat``) through the `wechatpayv3` library:
JSAPI / mini-program prepay, the payment callback verified and decrypted, refunds.

Contract: `prepay` places the order with WeChat Pay (``out_trade_no`` is the order id, so
asking again answers the same prepay) and answers the parameters ``wx.requestPayment`` takes,
signed with the merchant's key. `verify` accepts a callback only when its signature checks
against a WeChat Pay platform certificate (downloaded from the gateway, its resource decrypted
with the APIv3 key), it is at most `MAX_CALLBACK_AGE_S` old, and it names our merchant and app;
anything else is ``bad_signature`` and records nothing. Every answer the library gets from the
gateway is itself signature-checked by the library. `refund` names the refund after the order
(``out_refund_no``), so the provider refunds it once. The library raises bare ``Exception`` for
every failure; this module is the boundary that turns them into catalog errors.
"""

import asyncio
import datetime
import logging
import secrets
import time
from typing import Any

# The asyncio client has its own copy of the library's enums: its pay() compares against those.
from wechatpayv3.async_ import AsyncWeChatPay, WeChatPayType

from common import codec
from common.errors import ClientError, Code
from live.commerce.payment_providers import PaidNotice, Payer
from live.db.models import OrderRow, PaymentRow
from live.platform.settings import WeChatPaySettings

log = logging.getLogger(__name__)

#: Callbacks older (or newer) than this are refused: a captured callback cannot be replayed.
MAX_CALLBACK_AGE_S = 300
#: Platform certificates are downloaded again at most this often for an unknown serial.
CERTIFICATE_REFRESH_S = 60.0
TIMEOUT_S = 10.0
CHINA = datetime.timezone(datetime.timedelta(hours=8))


class WeChatPayProvider:
    """A merchant's WeChat Pay account."""

    name = "wechat"

    def __init__(self, settings: WeChatPaySettings) -> None:
        self._settings = settings
        self._client: AsyncWeChatPay | None = None
        self._opening = asyncio.Lock()
        self._opened_at = 0.0

    async def _pay(self) -> AsyncWeChatPay:
        """The library's client, its platform certificates downloaded (once, then kept)."""
        async with self._opening:
            if self._client is None:
                settings = self._settings
                client = AsyncWeChatPay(
                    wechatpay_type=WeChatPayType.MINIPROG,
                    mchid=settings.mchid,
                    private_key=settings.private_key,
                    cert_serial_no=settings.cert_serial_no,
                    appid=settings.appid,
                    apiv3_key=settings.apiv3_key,
                    notify_url=settings.notify_url,
                    cert_dir=str(settings.cert_dir) if settings.cert_dir else None,
                    timeout=(TIMEOUT_S, TIMEOUT_S),
                )
                # The library has no setting for its gateway (a proxy, a sandbox, the tests'
                # stand-in): it is a plain attribute read on every request.
                client._core._gate_way = settings.gateway
                try:
                    await client.__aenter__()
                except Exception as exc:
                    await client.__aexit__(None, None, None)
                    raise ClientError(
                        Code.UNAVAILABLE, f"WeChat Pay cannot be reached: {exc}"
                    ) from exc
                self._client, self._opened_at = client, time.monotonic()
            return self._client

    async def prepay(self, order: OrderRow, *, title: str, payer: Payer) -> dict[str, Any]:
        """A JSAPI / mini-program prepay, and the signed ``wx.requestPayment`` parameters."""
        if not payer.openid:
            raise ClientError(Code.INVALID_REQUEST, "openid is required to pay with WeChat Pay")
        client = await self._pay()
        expires = datetime.datetime.fromtimestamp(order.expires_ms / 1000, CHINA)
        try:
            status, message = await client.pay(
                description=title[:127],
                out_trade_no=order.id,
                amount={"total": order.amount_cents, "currency": "CNY"},
                payer={"openid": payer.openid},
                time_expire=expires.isoformat(timespec="seconds"),
                pay_type=WeChatPayType.MINIPROG,
            )
        except Exception as exc:
            raise ClientError(Code.UNAVAILABLE, f"WeChat Pay did not answer: {exc}") from exc
        answer = _json(message)
        if status != 200 or "prepay_id" not in answer:
            raise _refused(status, answer)
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        package = f"prepay_id={answer['prepay_id']}"
        pay_sign = client.sign([self._settings.appid, timestamp, nonce, package])
        return {
            "prepay_id": answer["prepay_id"],
            "request_payment": {
                "appId": self._settings.appid,
                "timeStamp": timestamp,
                "nonceStr": nonce,
                "package": package,
                "signType": "RSA",
                "paySign": pay_sign,
            },
        }

    async def verify(self, headers: Any, body: bytes) -> PaidNotice | None:
        """The payment a callback reports; None for a verified callback that reports none
        (a refund, a failed payment). Raises ``bad_signature`` for anything not from WeChat."""
        sent = headers.get("wechatpay-timestamp") or ""
        if not sent.isdigit() or abs(time.time() - int(sent)) > MAX_CALLBACK_AGE_S:
            raise ClientError(Code.BAD_SIGNATURE, "the callback's timestamp is missing or stale")
        client = await self._pay()
        try:
            event = client.callback(headers, body)
            if event is None and time.monotonic() - self._opened_at > CERTIFICATE_REFRESH_S:
                # The platform may have rotated its certificate: download them again, at most
                # once a minute so that forged callbacks cannot make us hammer the gateway.
                await self._reopen()
                event = (await self._pay()).callback(headers, body)
        except ClientError:
            raise
        except Exception as exc:
            raise ClientError(Code.BAD_SIGNATURE, f"the callback was refused: {exc}") from exc
        if event is None:
            raise ClientError(Code.BAD_SIGNATURE, "the callback's signature does not check")
        resource = event.get("resource") or {}
        if resource.get("mchid") != self._settings.mchid or (
            resource.get("appid") not in (None, self._settings.appid)
        ):
            raise ClientError(Code.BAD_SIGNATURE, "the callback is for another merchant")
        if event.get("event_type") != "TRANSACTION.SUCCESS" or resource.get("trade_state") != (
            "SUCCESS"
        ):
            return None
        try:
            return PaidNotice(
                order_id=str(resource["out_trade_no"]),
                paid_amount_cents=int(resource["amount"]["total"]),
                provider_txn_id=f"wechat:{resource['transaction_id']}",
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ClientError(Code.INVALID_REQUEST, "the callback's resource is malformed") from exc

    async def refund(self, order: OrderRow, payment: PaymentRow, *, reason: str) -> str:
        """Refund the whole payment; the refund is named ``rf_<order id>``."""
        client = await self._pay()
        transaction_id = payment.provider_txn_id.removeprefix("wechat:")
        try:
            status, message = await client.refund(
                out_refund_no=f"rf_{order.id}",
                amount={
                    "refund": payment.paid_amount_cents,
                    "total": payment.paid_amount_cents,
                    "currency": "CNY",
                },
                transaction_id=transaction_id,
                reason=reason[:80],
            )
        except Exception as exc:
            raise ClientError(Code.UNAVAILABLE, f"WeChat Pay did not answer: {exc}") from exc
        answer = _json(message)
        if status != 200 or answer.get("status") not in {"SUCCESS", "PROCESSING"}:
            raise _refused(status, answer)
        return str(answer.get("refund_id") or answer.get("out_refund_no"))

    async def _reopen(self) -> None:
        async with self._opening:
            client, self._client = self._client, None
        if client is not None:
            await client.__aexit__(None, None, None)

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self._reopen()


def _json(message: Any) -> dict[str, Any]:
    try:
        decoded = codec.decode(message) if message else {}
    except codec.JSONDecodeError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _refused(status: int, answer: dict[str, Any]) -> ClientError:
    """WeChat Pay's refusal as a catalog error: its 5xx is an outage, its 4xx a conflict."""
    words = f"WeChat Pay answered {status}: {answer.get('code')} {answer.get('message')}"
    log.warning("%s", words)
    return ClientError(Code.UNAVAILABLE if status >= 500 else Code.CONFLICT, words)
