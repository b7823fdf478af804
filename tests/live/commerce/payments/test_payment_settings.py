"""``LIVE_PAYMENT_PROVIDER`` and the WeChat Pay merchant settings: read in one place, refused in
one line naming the variable."""

from pathlib import Path

import pytest

from live.platform.settings import SettingsError, load_settings
from tests.live.commerce.payments.wechat_standin import new_key, private_pem


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"LIVE_DATA_DIR": str(tmp_path), **values}


def test_wechat_settings_are_read_with_the_key_file(tmp_path: Path) -> None:
    """A complete merchant configuration is read, the key from its file; the gateway defaults
    to WeChat Pay's."""
    key_file = tmp_path / "key.pem"
    key_file.write_text(private_pem(new_key()))
    settings = load_settings(
        _env(
            tmp_path,
            LIVE_PAYMENT_PROVIDER="wechat",
            LIVE_WECHATPAY_MCHID="1900000109",
            LIVE_WECHATPAY_APPID="wx1",
            LIVE_WECHATPAY_CERT_SERIAL_NO="ABC",
            LIVE_WECHATPAY_PRIVATE_KEY_FILE=str(key_file),
            LIVE_WECHATPAY_APIV3_KEY="k" * 32,
            LIVE_WECHATPAY_NOTIFY_URL="https://live.example.com/api/payments/wechat/notify",
        )
    )
    assert settings.payment_provider == "wechat"
    assert settings.wechatpay is not None
    assert settings.wechatpay.gateway == "https://api.mch.weixin.qq.com"
    assert "PRIVATE KEY" in settings.wechatpay.private_key
    assert "k" * 32 not in repr(settings)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"LIVE_PAYMENT_PROVIDER": "alipay"}, "LIVE_PAYMENT_PROVIDER"),
        ({"LIVE_PAYMENT_PROVIDER": "wechat"}, "LIVE_WECHATPAY_MCHID"),
        (
            {
                "LIVE_PAYMENT_PROVIDER": "wechat",
                "LIVE_WECHATPAY_MCHID": "1",
                "LIVE_WECHATPAY_APPID": "wx1",
                "LIVE_WECHATPAY_CERT_SERIAL_NO": "A",
                "LIVE_WECHATPAY_PRIVATE_KEY_FILE": "/nonexistent/key.pem",
                "LIVE_WECHATPAY_APIV3_KEY": "k" * 32,
                "LIVE_WECHATPAY_NOTIFY_URL": "https://x.example/n",
            },
            "LIVE_WECHATPAY_PRIVATE_KEY_FILE",
        ),
        (
            {
                "LIVE_PAYMENT_PROVIDER": "wechat",
                "LIVE_WECHATPAY_MCHID": "1",
                "LIVE_WECHATPAY_APPID": "wx1",
                "LIVE_WECHATPAY_CERT_SERIAL_NO": "A",
                "LIVE_WECHATPAY_PRIVATE_KEY_FILE": "/etc/hostname",
                "LIVE_WECHATPAY_APIV3_KEY": "short",
                "LIVE_WECHATPAY_NOTIFY_URL": "https://x.example/n",
            },
            "LIVE_WECHATPAY_APIV3_KEY",
        ),
    ],
)
def test_bad_payment_settings_name_their_variable(
    tmp_path: Path, values: dict[str, str], named: str
) -> None:
    """An unknown provider, a missing merchant setting, an unreadable key, a short APIv3 key."""
    with pytest.raises(SettingsError, match=named):
        load_settings(_env(tmp_path, **values))
