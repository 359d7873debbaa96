"""dissector timeline: phases and durations (pure functions), CSV/JSON/SVG/HTML shapes, escaping, and the
HTML report in a real headless Chromium (skipped when chromium is not installed)."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest
from conftest import CORPUS, SAMPLES, analyze, needs_corpus

from dissector.cli import main
from dissector.output import timeline as tlm

T0 = 1_700_000_000.0
CAPTURES = CORPUS / "captures"
KEYS = CORPUS / "keys"


# ---------------------------------------------------------------------------------------------------
# hand-made session documents (the JSON contract of DESIGN.md)


def msg(dt_ms: float, side: str, type_: str, **fields) -> dict:
    return {"time": T0 + dt_ms / 1000.0, "from": side, "type": type_, **fields}


def tcp(dt_ms: float, side: str, event: str) -> dict:
    return {"time": T0 + dt_ms / 1000.0, "from": side, "event": event}


def tls12_full_doc(**over) -> dict:
    """A TLS 1.2 ECDHE handshake with SYN, application data, close_notify and FIN on both sides."""
    doc = {
        "id": 0, "client": "10.0.0.1:50000", "server": "10.0.0.2:443", "version": "TLS 1.2",
        "cipher_suite": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "sni": "example.com", "alpn": "h2",
        "resumed": False,
        "tcp": [tcp(0, "client", "SYN"), tcp(10, "server", "SYN-ACK"), tcp(20, "client", "ESTABLISHED"),
                tcp(900, "client", "FIN"), tcp(910, "server", "FIN")],
        "messages": [
            msg(21, "client", "ClientHello", sni="example.com"),
            msg(31, "server", "ServerHello"), msg(31, "server", "Certificate"),
            msg(31, "server", "ServerKeyExchange"), msg(31, "server", "ServerHelloDone"),
            msg(45, "client", "ClientKeyExchange"), msg(45, "client", "ChangeCipherSpec"),
            msg(45, "client", "Finished", encrypted=True),
            msg(55, "server", "NewSessionTicket"), msg(55, "server", "ChangeCipherSpec"),
            msg(55, "server", "Finished", encrypted=True),
            msg(890, "client", "Alert", encrypted=True, level="warning", description="close_notify"),
        ],
        "app_records": {"client": {"records": 2, "bytes": 300, "first": T0 + 0.046, "last": T0 + 0.400},
                        "server": {"records": 3, "bytes": 5000, "first": T0 + 0.056, "last": T0 + 0.500}},
        "app_data": {"client": {"bytes": 250, "sha256": "00"}, "server": {"bytes": 4900, "sha256": "00"}},
        "decryption": {"status": "decrypted", "detail": ""},
        "end": {"time": T0 + 0.910, "reason": "FIN"}, "capture": "hand.pcap", "capture_index": 0,
    }
    doc.update(over)
    return doc


def test_durations_full_handshake():
    tl = tlm.session_timeline(tls12_full_doc())
    d = tl["durations"]
    assert d["tcp_connect"]["ms"] == pytest.approx(20.0)
    assert (d["tcp_connect"]["from"], d["tcp_connect"]["to"]) == ("SYN", "ACK")
    assert d["tls_handshake"]["ms"] == pytest.approx(34.0)  # ClientHello at 21 ms, server Finished at 55 ms
    assert d["tls_handshake"]["to"] == "Finished (server)"
    assert d["first_app_data"]["ms"] == pytest.approx(25.0)  # first record either way: the client's at 46 ms
    assert d["session"]["ms"] == pytest.approx(910.0)  # SYN to the second FIN
    assert "note" not in d["session"]
    assert tl["handshake"] == "full"
    assert tl["start"] == T0 and tl["end"] == pytest.approx(T0 + 0.910)


def test_events_phases_and_order():
    tl = tlm.session_timeline(tls12_full_doc())
    evs = tl["events"]
    assert [e["time"] for e in evs] == sorted(e["time"] for e in evs)
    phases = {(e["layer"], e["type"]): e["phase"] for e in evs}
    assert phases[("tcp", "SYN")] == phases[("tcp", "ESTABLISHED")] == "tcp-connect"
    assert phases[("tls", "ClientHello")] == phases[("tls", "ServerHello")] == "hello"
    assert phases[("tls", "Certificate")] == phases[("tls", "ClientKeyExchange")] == "key-exchange"
    assert phases[("tls", "ChangeCipherSpec")] == phases[("tls", "Finished")] == "finished"
    assert phases[("tls", "NewSessionTicket")] == "finished"  # TLS 1.2: part of the server's last flight
    assert phases[("app", "ApplicationData")] == "application-data"
    assert phases[("tls", "Alert")] == phases[("tcp", "FIN")] == "close"
    assert evs[0]["t_ms"] == 0.0 and evs[0]["type"] == "SYN"
    assert sum(e["layer"] == "tls" for e in evs) == 12
    assert sum(e["layer"] == "app" for e in evs) == 2  # one summary per direction, not one per record
    app = next(e for e in evs if e["layer"] == "app" and e["from"] == "server")
    assert (app["records"], app["bytes"], app["last_ms"]) == (3, 5000, 500.0)
    close = next(e for e in evs if e["type"] == "Alert")
    assert not close.get("alarm")  # close_notify is not an error


def test_missing_pieces_are_null_with_a_reason():
    doc = tls12_full_doc(tcp=[], end={"time": T0 + 5, "reason": "end of capture"})
    doc["messages"] = doc["messages"][:5]  # up to ServerHelloDone: no Finished
    doc["app_records"], doc["app_data"] = {}, {}
    d = tlm.session_timeline(doc)["durations"]
    assert d["tcp_connect"] == {"ms": None, "reason": "no SYN in the capture: it starts after the TCP connection "
                                                      "was opened"}
    assert d["tls_handshake"]["ms"] is None and "no Finished from the server or the client" in d["tls_handshake"][
        "reason"]
    assert d["first_app_data"]["ms"] is None and "no application data" in d["first_app_data"]["reason"]
    # the session lasted from the first to the last packet seen: a lower bound, said so
    assert d["session"]["ms"] == pytest.approx(10.0)
    assert "at least" in d["session"]["note"]

    empty = tlm.session_timeline({"id": 3, "client": "a:1", "server": "b:2", "messages": [], "tcp": [],
                                  "decryption": {"status": "not-encrypted", "detail": ""},
                                  "end": {"time": T0, "reason": "end of capture"}})
    assert "no ClientHello" in empty["durations"]["tls_handshake"]["reason"]
    assert empty["handshake"] is None and empty["events"] == []
    no_ack = tlm.session_timeline(tls12_full_doc(tcp=[tcp(0, "client", "SYN"), tcp(10, "server", "SYN-ACK")]))
    assert "no client ACK" in no_ack["durations"]["tcp_connect"]["reason"]


@pytest.mark.parametrize("name,inner_id", [("https-proxy-connect", 1_000_000_000), ("chromium-h2-proxy", 1_000_000_003)])
def test_a_session_inside_a_proxy_tunnel_has_no_tcp_of_its_own(name, inner_id):
    real = SAMPLES / "real"
    docs = {d["id"]: d for d in analyze([real / f"{name}.pcap"], keylogs=[str(real / f"{name}.keys")])}
    inner = tlm.session_timeline(docs[inner_id])["durations"]
    assert inner["tcp_connect"]["ms"] is None and inner["tcp_connect"]["reason"].startswith("inside a proxy tunnel")
    assert inner["session"]["from"] == "ClientHello in the tunnel" and "note" not in inner["session"]
    assert inner["tls_handshake"]["ms"] > 0
    outer = tlm.session_timeline(docs[inner_id % 1_000_000_000])["durations"]  # the proxy connection: TCP as usual
    assert outer["tcp_connect"]["ms"] is not None and outer["session"]["from"] == "SYN"


def test_failed_handshake_names_the_alert():
    doc = tls12_full_doc()
    doc["messages"] = doc["messages"][:5] + [msg(40, "client", "Alert", level="fatal", description="bad_certificate")]
    d = tlm.session_timeline(doc)["durations"]["tls_handshake"]
    assert d == {"ms": None, "reason": "the handshake failed: fatal alert bad_certificate from the client"}


def test_tls12_without_key_takes_the_message_after_ccs_as_finished():
    doc = tls12_full_doc(decryption={"status": "no-key", "detail": "ECDHE key exchange: a key log is needed"})
    for m in doc["messages"]:
        if m["type"] == "Finished":
            m["type"] = "EncryptedHandshakeMessage"
    doc["app_data"] = {}
    tl = tlm.session_timeline(doc)
    assert tl["durations"]["tls_handshake"]["ms"] == pytest.approx(34.0)
    assert "ChangeCipherSpec" in tl["durations"]["tls_handshake"]["note"]
    fins = [e for e in tl["events"] if e["label"] == "Finished (encrypted)"]
    assert len(fins) == 2 and all(e["phase"] == "finished" for e in fins)
    app = [e for e in tl["events"] if e["layer"] == "app"]
    assert all(e["type"] == "ApplicationData" and not e["decrypted"] for e in app)


def test_tls13_without_key_does_not_guess():
    doc = tls12_full_doc(version="TLS 1.3", cipher_suite="TLS_AES_128_GCM_SHA256",
                         decryption={"status": "no-key", "detail": "a key log is needed"}, app_data={})
    doc["messages"] = [msg(21, "client", "ClientHello"), msg(31, "server", "ServerHello"),
                       msg(31, "server", "ChangeCipherSpec"), msg(45, "client", "ChangeCipherSpec")]
    tl = tlm.session_timeline(doc)
    d = tl["durations"]
    assert d["tls_handshake"]["ms"] is None and "encrypted" in d["tls_handshake"]["reason"]
    assert d["first_app_data"]["ms"] is None and "cannot be told apart" in d["first_app_data"]["reason"]
    assert {e["type"] for e in tl["events"] if e["layer"] == "app"} == {"EncryptedRecords"}
    ccs = [e for e in tl["events"] if e["type"] == "ChangeCipherSpec"]
    assert all("middlebox" in e["detail"] for e in ccs)
    assert [e["phase"] for e in ccs] == ["hello", "hello"]  # TLS 1.3 CCS: the phase of what surrounds it


def test_resumption_and_alerts():
    sh_psk = msg(31, "server", "ServerHello", extensions=[{"type": 41, "name": "pre_shared_key"}])
    doc = tls12_full_doc(version="TLS 1.3", cipher_suite="TLS_AES_128_GCM_SHA256", tcp=[])
    doc["messages"] = [msg(21, "client", "ClientHello"), sh_psk,
                       msg(31, "server", "EncryptedExtensions", encrypted=True),
                       msg(31, "server", "Finished", encrypted=True), msg(40, "client", "Finished", encrypted=True),
                       msg(41, "server", "NewSessionTicket", encrypted=True),
                       msg(50, "server", "Alert", level="fatal", description="bad_record_mac")]
    tl = tlm.session_timeline(doc)
    assert tl["handshake"] == "resumed" and "pre-shared key" in tl["handshake_reason"]
    assert tl["durations"]["tls_handshake"]["ms"] == pytest.approx(19.0)
    nst = next(e for e in tl["events"] if e["type"] == "NewSessionTicket")
    assert nst["phase"] == "application-data"  # after the handshake: a post-handshake message
    alert = next(e for e in tl["events"] if e["type"] == "Alert")
    assert alert["alarm"] and alert["label"] == "Alert: bad_record_mac"
    assert tl["alerts"] == ["Alert: bad_record_mac"]
    assert tlm.session_timeline(tls12_full_doc(resumed=True))["handshake"] == "resumed"
    svg = tlm.render_svg(tl)
    assert svg.count('data-alert="true"') == 1 and 'class="alarm"' in svg


def test_renegotiation_counts_handshakes():
    doc = tls12_full_doc()
    doc["messages"] = doc["messages"][:11] + [msg(600, "server", "HelloRequest", encrypted=True),
                                              msg(601, "client", "ClientHello", encrypted=True),
                                              msg(602, "server", "ServerHello", encrypted=True)]
    tl = tlm.session_timeline(doc)
    assert tl["durations"]["tls_handshake"]["ms"] == pytest.approx(34.0)  # the first handshake only
    assert [e["handshake"] for e in tl["events"] if e["layer"] == "tls"][-3:] == [2, 2, 2]
    assert "renegotiation: handshake 2" in tlm.render_svg(tl)


# ---------------------------------------------------------------------------------------------------
# output shapes


def test_csv_shape():
    tls = [tlm.session_timeline(tls12_full_doc()), tlm.session_timeline(tls12_full_doc(id=1))]
    rows = list(csv.reader(io.StringIO(tlm.csv_text(tls))))
    assert rows[0] == tlm.CSV_COLUMNS
    assert len(rows) == 1 + sum(len(t["events"]) for t in tls)
    assert all(len(r) == len(tlm.CSV_COLUMNS) for r in rows)
    first = dict(zip(rows[0], rows[1]))
    assert (first["event"], first["layer"], first["from"], first["to"], first["relative_ms"]) == (
        "SYN", "tcp", "client", "server", "0.000")
    assert first["tls_handshake_ms"] == "34.000" and first["tcp_connect_ms"] == "20.000"
    assert first["time_utc"].startswith("2023-11-14 22:13:20")


def test_csv_neutralises_formulas():
    doc = tls12_full_doc()
    doc["messages"][2]["certificates"] = [{"subject": "x"}]
    tl = tlm.session_timeline(doc)
    tl["events"][0]["detail"] = "=HYPERLINK(\"http://evil\")"
    rows = list(csv.reader(io.StringIO(tlm.csv_text([tl]))))
    assert rows[1][tlm.CSV_COLUMNS.index("detail")].startswith("'=")


def test_json_shape():
    tls = [tlm.session_timeline(tls12_full_doc())]
    doc = json.loads(tlm.json_text(tls, {"packets": 10}))
    s = doc["sessions"][0]
    assert doc["summary"] == {"packets": 10}
    assert set(s["durations"]) == {"tcp_connect", "tls_handshake", "first_app_data", "session"}
    for e in s["events"]:
        assert {"time", "t_ms", "from", "layer", "type", "phase", "encrypted", "detail"} <= set(e)


def test_html_one_arrow_per_message_and_self_contained():
    docs = [tls12_full_doc(), tls12_full_doc(id=1, resumed=True)]
    tls = tlm.timelines(docs)
    page = tlm.render_html(tls, {"captures": ["hand.pcap"], "packets": 40})
    assert page.count('class="arrow"') == sum(len(d["messages"]) for d in docs)
    assert page.count('class="tcp-arrow"') == sum(len(d["tcp"]) for d in docs)
    assert page.count('class="app-arrow"') == 4
    for t in ("ClientHello", "ServerKeyExchange", "Finished", "Alert"):
        assert f'data-type="{t}"' in page
    # nothing to fetch: no external resources, no scripts, and a CSP that forbids them anyway
    assert not re.search(r"<script|<link|\bsrc=|@import|url\(", page, re.I)
    assert "default-src 'none'" in page
    assert page.isascii()


def test_html_many_sessions_collapse():
    docs = [tls12_full_doc(id=i, client=f"10.0.0.1:{50000 + i}") for i in range(200)]
    page = tlm.render_html(tlm.timelines(docs))
    assert page.count('<details class="session"') == 200
    assert page.count('<details class="session" id="session-0-0" open>') == 1
    assert len(re.findall(r'<details class="session" id="[^"]+" open>', page)) == tlm.OPEN_SESSIONS
    assert page.count('class="bar"') == 200  # one column per session in the chart
    assert page.count('class="arrow"') == 200 * 12


def test_html_very_many_sessions_histogram_and_cap(monkeypatch):
    monkeypatch.setattr(tlm, "COLUMNS_MAX", 5)
    monkeypatch.setattr(tlm, "MAX_SECTIONS", 3)
    docs = [tls12_full_doc(id=i, client=f"10.0.0.1:{50000 + i}") for i in range(8)]
    page = tlm.render_html(tlm.timelines(docs))
    assert 'class="chart histogram"' in page and 'class="bar"' not in page
    assert page.count('<details class="session"') == 3
    assert "5 more sessions are in the table above only" in page
    assert page.count('<tr><td><a href="#session-0-') == 8  # the table still lists every session


MALICIOUS = '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>&amp;\u202eevil\x00\x07'


def test_escaping_of_capture_strings():
    doc = tls12_full_doc(sni=MALICIOUS, alpn=MALICIOUS, capture="/tmp/" + MALICIOUS)
    doc["messages"][0]["sni"] = MALICIOUS
    doc["messages"][2]["certificates"] = [{"subject": "CN=" + MALICIOUS, "key_type": "RSA", "key_size": 2048}]
    tl = tlm.session_timeline(doc)
    page = tlm.render_html([tl], {"captures": [doc["capture"]]})
    svg = tlm.render_svg(tl, standalone=True)
    for text in (page, svg):
        assert "<script" not in text and "<img" not in text and "onerror=alert(2)>" not in text
        assert "&lt;script&gt;" in text
        assert "\u202e" not in text and "\x00" not in text and "\x07" not in text
        assert "\\u202e" in text
    ET.fromstring(svg.split("\n", 1)[1])  # the standalone SVG is well-formed XML


def test_svg_standalone_is_xml():
    svg = tlm.render_svg(tlm.session_timeline(tls12_full_doc()), standalone=True)
    root = ET.fromstring(svg.split("\n", 1)[1])
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    arrows = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "arrow"]
    assert len(arrows) == 12 and arrows[0].get("data-type") == "ClientHello"


def test_layout_keeps_order_and_spacing():
    times = [0.0, 0.0, 0.0, 0.001, 0.5, 5.0]
    ys = tlm.layout_rows(times)
    gaps = [b - a for a, b in zip(ys, ys[1:])]
    assert all(g >= tlm.ROW for g in gaps)  # never closer than one row
    assert gaps[0] == gaps[1] == tlm.ROW
    assert gaps[2] < gaps[3] < gaps[4]  # longer waits take more room, compressed (log)
    assert gaps[4] <= tlm.ROW + 70


def test_formatting():
    assert tlm.fmt_ms(None) == "n/a"
    assert tlm.fmt_ms(0.7341) == "0.734 ms" and tlm.fmt_ms(12.34) == "12.3 ms" and tlm.fmt_ms(1520) == "1.52 s"
    assert tlm.fmt_offset(2.634) == "+2.634 ms" and tlm.fmt_offset(2809.0) == "+2.809 s"


# ---------------------------------------------------------------------------------------------------
# corpus captures


@needs_corpus
def test_corpus_tls13_rfc8446_durations():
    docs = analyze([CAPTURES / "tls13-rfc8446.pcap"], keylogs=[KEYS / "tls13-rfc8446.keys"])
    tls = tlm.timelines(docs)
    full, resumed = tls
    assert full["durations"]["tls_handshake"]["ms"] == pytest.approx(5.266, abs=0.001)
    assert full["durations"]["first_app_data"]["ms"] == pytest.approx(5.784, abs=0.001)
    assert full["durations"]["tcp_connect"]["ms"] is None  # the capture has no SYN
    assert full["handshake"] == "full" and full["key_exchange"] == "x25519"
    assert resumed["handshake"] == "resumed"
    assert resumed["durations"]["tls_handshake"]["ms"] == pytest.approx(3.474, abs=0.001)
    assert resumed["durations"]["first_app_data"]["ms"] == pytest.approx(0.295, abs=0.001)  # 0-RTT early data
    assert [e["type"] for e in full["events"] if e["layer"] == "tls"] == [m["type"] for m in docs[0]["messages"]]


def test_first_application_data_says_what_became_of_0rtt():
    real = SAMPLES / "real"
    for name, note in (("openssl-tls13-0rtt", "the server took it"), ("openssl-tls13-0rtt-rejected", "was rejected")):
        docs = analyze([real / f"{name}.pcap"], keylogs=[str(real / f"{name}.keys")])
        full, resumed = tlm.timelines(docs)
        assert "note" not in full["durations"]["first_app_data"]
        assert note in resumed["durations"]["first_app_data"]["note"]
    # rejected: the first application data is the request sent again after the handshake, not the 0-RTT record
    assert resumed["durations"]["first_app_data"]["ms"] > resumed["durations"]["tls_handshake"]["ms"]


@needs_corpus
def test_corpus_tcp_connect_and_session():
    tl = tlm.timelines(analyze([CAPTURES / "dhe1.pcapng.gz"], keylogs=[KEYS / "dhe1_keylog.dat"]))[0]
    doc_tcp = {e["event"]: e["time"] for e in analyze([CAPTURES / "dhe1.pcapng.gz"],
                                                      keylogs=[KEYS / "dhe1_keylog.dat"])[0]["tcp"]}
    d = tl["durations"]
    assert d["tcp_connect"]["ms"] == pytest.approx((doc_tcp["ESTABLISHED"] - doc_tcp["SYN"]) * 1000, abs=1e-3)
    assert d["session"]["from"] == "SYN" and d["session"]["to"] == "FIN" and "note" not in d["session"]
    assert tl["handshake"] == "resumed"


@needs_corpus
def test_corpus_durations_are_consistent_everywhere():
    """On every corpus capture: each duration is real (between two events of the session) or null with a reason."""
    for path in sorted(CAPTURES.glob("*.pcap*")):
        for tl in tlm.timelines(analyze([path])):
            times = {e["time"] for e in tl["events"]}
            for key, d in tl["durations"].items():
                if d["ms"] is None:
                    assert d["reason"], (path.name, key)
                    continue
                assert d["ms"] >= 0, (path.name, key)
                assert d["ms"] == pytest.approx((d["end"] - d["start"]) * 1000, abs=1e-3)
                if key != "session":
                    assert d["start"] in times and d["end"] in times, (path.name, key)


@needs_corpus
def test_corpus_many_sessions_report():
    docs = analyze([CAPTURES / "tls-fragmented-handshakes.pcap"])
    page = tlm.render_html(tlm.timelines(docs))
    assert len(docs) == 100
    assert page.count('class="arrow"') == sum(len(d["messages"]) for d in docs)
    assert "no ServerHello" in page  # why no session has a handshake duration


# ---------------------------------------------------------------------------------------------------
# the command


@needs_corpus
def test_cli_formats(tmp_path, capsys):
    cap, keys = str(CAPTURES / "tls13-rfc8446.pcap"), str(KEYS / "tls13-rfc8446.keys")
    out = tmp_path / "report.html"
    assert main(["timeline", cap, "--keylog", keys, "-o", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert main(["timeline", cap, "--keylog", keys, "-o", str(tmp_path / "t.csv")]) == 0
    assert (tmp_path / "t.csv").read_text().startswith("capture,session,")
    assert main(["timeline", cap, "--keylog", keys, "--format", "json", "--quiet"]) == 0
    stdout, stderr = capsys.readouterr()
    assert len(json.loads(stdout)["sessions"]) == 2 and stderr == ""  # no progress bar: stderr is no terminal
    assert main(["timeline", cap, "--keylog", keys, "--format", "svg", "--session", "1"]) == 0
    svg = capsys.readouterr().out
    root = ET.fromstring(svg.split("\n", 1)[1])
    assert sum(1 for g in root.iter() if g.get("class") == "arrow") == 10  # session 1 has 10 messages
    assert main(["timeline", cap, "--format", "svg", "--session", "7"]) == 3
    assert "no TLS session 7" in capsys.readouterr().err
    assert main(["timeline", cap, "--session", "3.0"]) == 2
    assert "there is 1 capture" in capsys.readouterr().err
    assert main(["timeline", cap, "--session", "x"]) == 2


@needs_corpus
@pytest.mark.parametrize("quiet,tty,expect", [(False, True, True), (True, True, False), (False, False, False)])
def test_cli_progress_only_on_a_terminal(monkeypatch, tmp_path, quiet, tty, expect):
    import dissector.commands.timeline as cmd

    made = []
    monkeypatch.setattr(cmd, "print_progress_factory", lambda: made.append(1) or (lambda done, total: None))
    monkeypatch.setattr(cmd.sys.stderr, "isatty", lambda: tty)
    args = ["timeline", str(CAPTURES / "dhe1.pcapng"), "-o", str(tmp_path / "x.json")] + (["--quiet"] if quiet else [])
    assert main(args) == 0
    assert bool(made) is expect


# ---------------------------------------------------------------------------------------------------
# a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]


def run_chromium(url: str, *extra: str) -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as profile:
        p = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
                           capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": profile})
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout, p.stderr


def console_messages(stderr: str) -> list[str]:
    """Lines of the page's console: errors, CSP violations (a blocked fetch), script output."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def png_colours(path: Path) -> int:
    """Distinct colours of an 8-bit RGB/RGBA PNG (a tiny decoder: zlib plus the five row filters)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, []
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    raw = zlib.decompress(b"".join(idat))
    bpp = 3 if ctype == 2 else 4
    stride = width * bpp
    prev = bytearray(stride)
    colours: set[bytes] = set()
    for y in range(height):
        off = y * (stride + 1)
        f = raw[off]
        cur = bytearray(raw[off + 1:off + 1 + stride])
        if f == 1:
            for i in range(bpp, stride):
                cur[i] = (cur[i] + cur[i - bpp]) & 255
        elif f == 2:
            for i in range(stride):
                cur[i] = (cur[i] + prev[i]) & 255
        elif f == 3:
            for i in range(stride):
                cur[i] = (cur[i] + (((cur[i - bpp] if i >= bpp else 0) + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 4 == 0:  # every 4th row is plenty to tell a page from a blank
            colours.update(bytes(cur[i:i + 3]) for i in range(0, stride, bpp))
        prev = cur
    return len(colours)


@needs_chromium
@needs_corpus
@pytest.mark.parametrize("capture,keylog", [("tls13-rfc8446.pcap", "tls13-rfc8446.keys"),
                                            ("tls-fragmented-handshakes.pcap", None)])
def test_report_in_headless_chromium(tmp_path, capture, keylog):
    report = tmp_path / "report.html"
    args = ["timeline", str(CAPTURES / capture), "-o", str(report), "--quiet"]
    if keylog:
        args += ["--keylog", str(KEYS / keylog)]
    assert main(args) == 0
    docs = analyze([CAPTURES / capture], keylogs=[KEYS / keylog] if keylog else [])
    url = report.resolve().as_uri()

    dom, stderr = run_chromium(url, "--dump-dom")
    assert dom.count('class="arrow"') == sum(len(d["messages"]) for d in docs) > 0
    assert dom.count('<svg class="ladder"') == len(docs)
    assert console_messages(stderr) == []  # no script errors, no blocked fetch

    png = tmp_path / "shot.png"
    _, stderr = run_chromium(url, f"--screenshot={png}", "--window-size=1200,1600")
    assert png.exists() and console_messages(stderr) == []
    assert png_colours(png) > 40  # a rendered page: text, phase colours, arrows; a blank page has 1
