import pytest

from nova_snapshot_hook import paths
from nova_snapshot_hook.config import Settings, load_settings, parse_settings
from nova_snapshot_hook.errors import ConfigError
from runners import call_cli


def test_missing_default_file_means_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("NOVA_SNAPSHOT_HOOK_CONFIG", raising=False)
    monkeypatch.setattr(paths, "SETTINGS", str(tmp_path / "absent.conf"))
    settings = load_settings()
    assert settings.method == "auto" and settings.timeout == 600 and settings.server_id == ""
    assert settings.path == str(tmp_path / "absent.conf")


def test_a_named_file_that_is_missing_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="absent.conf"):
        load_settings(str(tmp_path / "absent.conf"))


def test_a_file_the_environment_names_that_is_missing_is_an_error_as_with_config(
        tmp_path, monkeypatch, capsys):
    absent = tmp_path / "absent.conf"
    monkeypatch.setenv("NOVA_SNAPSHOT_HOOK_CONFIG", str(absent))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (f"{absent}: no such settings file (check the path that "
                              "NOVA_SNAPSHOT_HOOK_CONFIG names)")
    result = call_cli("list", capsys=capsys)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"ERROR: {err.value}"]


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


def test_a_misspelt_section_is_refused_with_its_line_and_the_closest_name():
    with pytest.raises(ConfigError) as err:
        parse_settings("[apt]\nrotation = 3\n\n# tiers\n[shedule]\ndaily = 3\n", "/etc/x.conf")
    assert str(err.value) == ("/etc/x.conf:5: unknown section [shedule]; the sections are [apt], "
                              "[cloud], [hooks], [log], [schedule], [server], [snapshot] "
                              "(rename it [schedule] in /etc/x.conf)")


@pytest.mark.parametrize("text, line", [("[future]\nkey = 5\n", 1),
                                        ("[apt]\nrotation = 3\n[DEFAULT]\nrotation = 9\n", 3),
                                        ("[server]\n[x\x1b]2J]\n", 2)])
def test_an_unknown_section_is_refused_even_empty_or_default(text, line):
    with pytest.raises(ConfigError) as err:
        parse_settings(text, "x.conf")
    message = str(err.value)
    assert message.startswith(f"x.conf:{line}: unknown section [") and "\x1b" not in message
    assert message.endswith("(remove it, or rename it to one of those, in x.conf)")


def test_apt_and_schedule_sections_are_read_and_checked():
    settings = parse_settings("[apt]\noperations = install, upgrade\nrotation = 3\n"
                              "exclude = linux-headers-* foo\n[schedule]\ndaily = 0\n", "x.conf")
    assert settings.apt_operations == ("install", "upgrade") and settings.apt_rotation == 3
    assert settings.apt_exclude == ("linux-headers-*", "foo") and settings.daily == 0
    with pytest.raises(ConfigError, match="unknown operation 'instal'"):
        parse_settings("[apt]\noperations = instal\n", "x.conf")
    with pytest.raises(ConfigError, match=r"\[apt\] rotation"):
        parse_settings("[apt]\nrotation = 0\n", "x.conf")


@pytest.mark.parametrize("text, says", [("[schedule]\ndaily = seven\n", "must be a whole number"),
                                        ("[apt]\nrotation = 2.5\n", "must be a whole number"),
                                        ("[snapshot]\ntimeout = soon\n", "must be a number")])
def test_a_word_where_a_number_belongs_is_refused_in_our_words(text, says):
    with pytest.raises(ConfigError) as err:
        parse_settings(text, "x.conf")
    assert f": {says}, " in str(err.value) and "invalid literal" not in str(err.value)


@pytest.mark.parametrize("args, says", [
    (["snapshot", "manual", "seven"], "argument ROTATION: must be a whole number: 'seven'"),
    (["snapshot", "--timeout", "soon"], "argument --timeout: must be a number: 'soon'"),
    (["snapshot", "--timeout", "nan"], "argument --timeout: must be a finite number: 'nan'"),
    (["restore", "--timeout", "inf"], "argument --timeout: must be a finite number: 'inf'"),
    (["fleet", "snapshot", "--all", "--concurrency", "two"],
     "argument --concurrency: must be a whole number: 'two'")])
def test_a_word_where_an_argument_wants_a_number_is_refused_in_our_words(args, says, capsys):
    result = call_cli(*args, capsys=capsys)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"ERROR: {says} (see ")
