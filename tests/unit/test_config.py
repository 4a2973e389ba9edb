import pytest

from nova_snapshot_hook.config import Settings, load_settings, parse_settings
from nova_snapshot_hook.errors import ConfigError


def test_missing_default_file_means_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("NOVA_SNAPSHOT_HOOK_CONFIG", str(tmp_path / "absent.conf"))
    settings = load_settings()
    assert settings.method == "auto" and settings.timeout == 600 and settings.server_id == ""


def test_a_named_file_that_is_missing_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="absent.conf"):
        load_settings(str(tmp_path / "absent.conf"))


def test_keys_are_read_into_settings():
    settings = parse_settings("[server]\nid = abc\nmetadata_url =\n[snapshot]\nmethod = image\n"
                              "timeout = 30\n[cloud]\nhttps_proxy = http://127.0.0.1:3128\n", "f.conf")
    assert settings == Settings(path="f.conf", server_id="abc", metadata_url="", method="image",
                                timeout=30.0, https_proxy="http://127.0.0.1:3128")


def test_bad_value_names_file_section_and_key():
    with pytest.raises(ConfigError) as err:
        parse_settings("[snapshot]\ntimeout = soon\n", "/etc/x.conf")
    assert "/etc/x.conf" in str(err.value) and "[snapshot] timeout" in str(err.value)


def test_unknown_key_is_refused_with_its_name():
    with pytest.raises(ConfigError, match="'methd'"):
        parse_settings("[snapshot]\nmethd = image\n", "x.conf")


def test_syntax_error_names_the_line():
    with pytest.raises(ConfigError, match="x.conf:2"):
        parse_settings("[snapshot]\nthis is not ini\n", "x.conf")


def test_unknown_sections_are_kept_for_later_readers():
    settings = parse_settings("[future]\nkey = 5\n", "x.conf")
    assert settings.extra == {"future": {"key": "5"}}


def test_apt_and_schedule_sections_are_read_and_checked():
    settings = parse_settings("[apt]\noperations = install, upgrade\nrotation = 3\n"
                              "exclude = linux-headers-* foo\n[schedule]\ndaily = 0\n", "x.conf")
    assert settings.apt_operations == ("install", "upgrade") and settings.apt_rotation == 3
    assert settings.apt_exclude == ("linux-headers-*", "foo") and settings.daily == 0
    with pytest.raises(ConfigError, match="unknown operation 'instal'"):
        parse_settings("[apt]\noperations = instal\n", "x.conf")
    with pytest.raises(ConfigError, match=r"\[apt\] rotation"):
        parse_settings("[apt]\nrotation = 0\n", "x.conf")
