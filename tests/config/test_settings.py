from __future__ import annotations

import ipaddress
from dataclasses import fields
from pathlib import Path

import pytest

from config import SETTINGS, IpStorage, Settings, SettingsError, describe_settings, load_settings
from config.settings import settings_table


def test_defaults_work_with_an_empty_environment() -> None:
    settings = load_settings({})
    assert settings.port == 8080 and settings.host == "127.0.0.1"
    assert settings.database_url is None and settings.auth_secret is None
    assert settings.auto_create_breakouts is True
    assert settings.ip_storage is IpStorage.TRUNCATED
    assert settings.var_dir == Path("./var")
    assert settings.trusted_proxies == ()  # no proxy is believed unless configured


def test_environment_overrides_each_setting() -> None:
    settings = load_settings(
        {
            "PORT": "9000",
            "DATABASE_URL": "postgresql://db/x",
            "AUTO_CREATE_BREAKOUTS": "off",
            "TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::/32",
            "IP_STORAGE": "none",
            "WRITER_BATCH_MAX_WAIT_MS": "0.5",
        }
    )
    assert settings.port == 9000 and settings.database_url == "postgresql://db/x"
    assert settings.auto_create_breakouts is False
    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("2001:db8::/32"),
    )
    assert settings.ip_storage is IpStorage.NONE
    assert settings.writer_batch_max_wait_ms == 0.5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("AUTO_CREATE_BREAKOUTS", "maybe"),
        ("TRUSTED_PROXIES", "not-a-cidr"),
        ("IP_STORAGE", "half"),
        ("DB_POOL_SIZE", "0"),
        ("WRITER_BATCH_WAIT_MIN_ROWS", "1"),
        ("LOG_LEVEL", "chatty"),
        ("REDIS_URL", "http://cache:6379"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})


def test_help_lists_every_setting() -> None:
    text = describe_settings()
    for spec in SETTINGS:
        assert spec.env in text


def test_with_overrides_keeps_the_rest() -> None:
    base = load_settings({})
    changed = base.with_overrides(port=1234)
    assert changed.port == 1234 and changed.host == base.host and base.port == 8080


def test_readme_settings_table_is_the_declarations_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("<!-- settings table: python -m config -->\n") + len(
        "<!-- settings table: python -m config -->\n"
    )
    end = readme.index("<!-- end of settings table -->")
    assert readme[start:end].strip() == settings_table(), "run `python -m config` into README"


def test_every_field_is_a_declared_setting_with_a_working_default() -> None:
    declared = {spec.field for spec in SETTINGS}
    assert declared == {f.name for f in fields(Settings)}
    assert len({spec.env for spec in SETTINGS}) == len(SETTINGS)
    assert load_settings({}) == Settings()


def test_help_of_a_command_lists_only_the_settings_it_names() -> None:
    text = describe_settings(["DATABASE_URL", "VAR_DIR"])
    assert "DATABASE_URL" in text and "VAR_DIR" in text and "REDIS_URL" not in text
    with pytest.raises(KeyError):
        describe_settings(["NO_SUCH_SETTING"])


def test_a_bad_choice_lists_the_allowed_values() -> None:
    with pytest.raises(SettingsError, match="expected one of full, truncated, none"):
        load_settings({"IP_STORAGE": "bogus"})


def test_a_malformed_database_url_is_named_and_its_password_never_shown() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"DATABASE_URL": "postgresql://app:hunter2@db:port/attendance"})
    assert str(raised.value).startswith("DATABASE_URL is not valid")
    assert "hunter2" not in str(raised.value)
