"""The settings reader is warmed at load (function_app), and that warm-up keeps nothing: the settings the app
uses are those of the environment at first use, as the host may reload the environment after load."""

from __future__ import annotations

import pytest

from dr.settings import get_settings, warm_settings_reader


def test_warming_at_load_neither_fails_on_a_bad_environment_nor_keeps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    monkeypatch.setenv("DR_STORAGE_CONNECTION_STRINGS", "not json")  # a placeholder's environment, say
    warm_settings_reader()  # must not raise: an app that fails to load serves no alert at all

    monkeypatch.setenv("DR_STORAGE_CONNECTION_STRINGS", '{"shopwus": "UseDevelopmentStorage=true"}')
    monkeypatch.setenv("DR_REPORTS_CONTAINER", "after-reload")
    try:
        settings = get_settings()
        assert settings.reports_container == "after-reload"
        assert set(settings.storage_connection_strings) == {"shopwus"}
    finally:
        get_settings.cache_clear()
