# SPDX-License-Identifier: MIT
"""The command line as an operator meets it: every --help lists exactly the options the parser
accepts (probed against the parser, not typed twice), usage errors are one line naming the
option with exit 2, `keys list` has a header, `check` catches an emptied layer and a source file
that is gone."""
import glob
import os
import re
import shutil

import pytest

from conftest import run_spp, spatialite

COMMANDS = ["serve", "import", "init", "check", "seed", "keys", "audit", "copy", "query",
            "history", "revert"]


def options_in(text):
    return set(re.findall(r"^\s+(--[a-z][a-z-]*)", text, re.M))


def all_known_options():
    """Every option any command's help lists, plus the ones the README's command line shows."""
    opts = set()
    for cmd in COMMANDS:
        opts |= options_in(run_spp(cmd, "--help").stdout)
    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md"),
                  encoding="utf-8").read()
    opts |= set(re.findall(r"(--[a-z][a-z-]+)", readme))
    return opts


def test_top_level_help_lists_commands_not_options():
    p = run_spp("--help")
    assert p.returncode == 0
    listed = re.findall(r"^  ([a-z]+)\s", p.stdout, re.M)
    assert listed == COMMANDS
    assert not options_in(p.stdout)


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_lists_every_accepted_option(cmd, tmp_path):
    text = run_spp(cmd, "--help").stdout
    listed = options_in(text)
    assert "--db" in listed and "--help" in listed and "--config" in listed
    assert re.search(r"^example:\n  spp " + cmd + " ", text, re.M), text
    for opt in sorted(all_known_options()):
        # A value the option would not be happy with, so nothing runs: the parser's verdict on
        # the option's name is what counts (unknown/not this command's vs anything else).
        p = run_spp(cmd, opt, "x", "--db", str(tmp_path / "none.sqlite"), check=False,
                    timeout=20)
        refused = p.returncode == 2 and ("unknown option" in p.stderr or
                                         f"option {opt} is not one of" in p.stderr)
        if opt in listed:
            assert not refused, f"{cmd} lists {opt} but refuses it: {p.stderr}"
        else:
            assert refused, f"{cmd} accepts {opt}, which its --help does not list: {p.stderr}"
            assert p.stderr.count("\n") == 1 and opt in p.stderr


def test_required_help_content():
    serve = options_in(run_spp("serve", "--help").stdout)
    assert {"--listen", "--threads", "--quiet", "--config", "--log-format"} <= serve
    seed = options_in(run_spp("seed", "--help").stdout)
    assert {"--zoom", "--layer", "--bbox", "--format"} <= seed
    imp = options_in(run_spp("import", "--help").stdout)
    assert {"--manifest", "--layer", "--set", "--rename", "--allow-shrink", "--report",
            "--dry-run", "--lang"} <= imp


@pytest.mark.parametrize("args,name", [
    (["serve", "--threads", "0"], "--threads"),
    (["serve", "--threads", "many"], "--threads"),
    (["serve", "--listen", "nowhere"], "--listen"),
    (["serve", "--log-format", "xml"], "--log-format"),
    (["seed", "--layer", "roads", "--zoom", "9-3"], "--zoom"),
    (["seed", "--layer", "roads", "--zoom", "3", "--format", "gif"], "--format"),
    (["seed", "--layer", "roads", "--zoom", "3", "--bbox", "1,2,3"], "--bbox"),
    (["import", "--layer", "roads", "x.shp", "--set", "commune_code"], "--set"),
    (["import", "--layer", "roads", "x.shp", "--rename", "=x"], "--rename"),
    (["import", "--layer", "roads", "x.shp", "--lang", "fr"], "--lang"),
    (["keys", "add", "--role", "king"], "--role"),
    (["serve", "--frobnicate"], "--frobnicate"),
    (["import", "--zoom", "3"], "--zoom"),
    (["serve", "--threads"], "--threads"),
    (["import", "--layer", "no_such_layer", "x.shp"], "--layer"),
    (["import", "--layer", "roads", "x.shp", "--set", "no_such_field=1"], "--set"),
    (["import", "--layer", "roads", "x.shp", "--set", "name="], "--set"),
    (["import", "--layer", "roads", "x.shp", "--rename", "TEN=no_such_field"], "--rename"),
    (["seed", "--layer", "no_such_layer", "--zoom", "3"], "--layer"),
    (["keys", "revoke", "abc"], "revoke"),
])
def test_bad_option_is_one_line_exit_2(args, name, tmp_path):
    p = run_spp(args[0], "--db", str(tmp_path / "s.sqlite"), *args[1:], check=False, timeout=20)
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("\n") == 1 and name in p.stderr, p.stderr
    assert not os.path.exists(tmp_path / "s.sqlite")


def test_keys_list_has_header(tmp_path):
    db = str(tmp_path / "k.sqlite")
    run_spp("init", "--db", db)
    run_spp("keys", "--db", db, "add", "--role", "planner", "--name", "So TNMT")
    lines = run_spp("keys", "--db", db, "list").stdout.splitlines()
    assert lines[0].split() == ["ID", "ROLE", "CREATED", "STATUS", "AGENCY", "LAYERS", "FIELDS",
                                "ROWS", "EXPIRES", "QUOTA", "LAST_USED", "TODAY", "NAME"]
    assert lines[1].split("\t")[1].strip() == "planner" and lines[1].endswith("So TNMT")


def copy_roads(demo, tmp_path):
    """The demo's road shapefile (all its parts) copied where the test can remove it."""
    src = os.path.join(demo["src"], "giao_thong")
    dst = tmp_path / "giao_thong"
    dst.mkdir()
    for f in glob.glob(os.path.join(src, "tim_duong.*")):
        shutil.copy(f, dst)
    return str(dst / "tim_duong.shp")


def test_check_finds_unreadable_sources_and_emptied_layers(demo, tmp_path):
    db = str(tmp_path / "c.sqlite")
    shutil.copy(demo["db"], db)
    roads = copy_roads(demo, tmp_path)
    run_spp("import", "--db", db, "--layer", "roads", roads)
    p = run_spp("check", "--db", db)
    assert p.returncode == 0 and "matches the catalog" in p.stdout

    os.remove(roads[:-4] + ".dbf")
    p = run_spp("check", "--db", db, check=False)
    assert p.returncode == 1
    assert re.search(r"^roads: source .*tim_duong\.shp of the last import cannot be read "
                     r"\(.*tim_duong\.dbf: No such file", p.stdout, re.M), p.stdout
    os.remove(roads)
    p = run_spp("check", "--db", db, check=False)
    assert p.returncode == 1 and "tim_duong.shp: No such file" in p.stdout

    con = spatialite(db)
    n = con.execute("SELECT count(*) FROM hydro_lines").fetchone()[0]
    assert n > 0
    con.execute("DELETE FROM hydro_lines")
    con.commit()
    con.close()
    p = run_spp("check", "--db", db, check=False)
    assert p.returncode == 1
    assert "hydro_lines: 0 features, but its last import" in p.stdout
    assert re.search(rf"^hydro_lines: empty, but it had {n} features after batch ", p.stdout, re.M)


def test_log_format_flag_overrides_the_settings(store, tmp_path):
    """--log-format json on the command line wins over "log_format": "text" in --config."""
    import json
    import subprocess
    import time
    import urllib.error
    import urllib.request

    from conftest import SPP, free_port
    cfg = tmp_path / "cfg.json"
    cfg.write_text('{"log_format": "text"}')
    port = free_port()
    p = subprocess.Popen([SPP, "serve", "--db", store, "--listen", f"127.0.0.1:{port}",
                          "--config", str(cfg), "--log-format", "json"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/collections?key=secret1",
                                       timeout=1).read()
                break
            except urllib.error.HTTPError:  # answered (a wrong key may be refused): logged
                break
            except OSError:
                time.sleep(0.05)
    finally:
        p.terminate()
        out, _ = p.communicate(timeout=30)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    hit = [e for e in lines if e["uri"].startswith("/collections")]
    assert hit and "secret1" not in out and "REDACTED" in hit[-1]["uri"]
    assert p.returncode == 0


@pytest.mark.parametrize("args,name", [
    (["land-funds", "--min-area", "abc"], "--min-area"),
    (["land-funds", "--no-such-filter", "1"], "--no-such-filter"),
    (["land-at", "--x", "abc", "--y", "1"], "--x"),
])
def test_query_bad_parameter_is_a_bad_option(store, args, name):
    p = run_spp("query", "--db", store, *args, check=False, timeout=20)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and name in p.stderr, p.stderr
