"""The plugin host: selection, safecall, redaction, the collector's merge, entry-point loading, CLI."""
from __future__ import annotations

import io
import json
import textwrap
from dataclasses import dataclass
from typing import ClassVar

import pytest
from dissector_plugins.http import HTTP1Plugin
from dissector_plugins.http2 import HTTP2Plugin

from dissector.events import CLIENT, SERVER, Anomaly, AppData, Event, Flow, FlowEnd, SessionInfo, SessionStart
from dissector.output.sessions import SessionCollector
from dissector.plugins import GROUP, PluginFields, PluginHost, discover, load_plugins
from dissector.redact import (
    Plain,
    Secret,
    SecretText,
    authorization_text,
    cookie_text,
    parse_authorization,
    scrub,
    scrub_event,
    target_text,
)


def flow(n: int = 0) -> Flow:
    return Flow(n, "10.0.0.1", 50000 + n, "10.0.0.2", 443, 1.0)


def session(f: Flow, chunks: list[tuple[str, bytes]], alpn: str | None = None) -> list[Event]:
    evs: list[Event] = [SessionStart(1.0, f), SessionInfo(1.1, f, "TLS 1.3", "TLS_AES_128_GCM_SHA256", "x.test", alpn)]
    for i, (d, data) in enumerate(chunks):
        evs.append(AppData(2.0 + i, f, d, len(data) + 17, data))
    evs.append(FlowEnd(9.0, f, "FIN"))
    return evs


@dataclass(slots=True, eq=False)
class Seen(Event):
    direction: str
    data: bytes


class Recorder:
    """A plugin that records what it is given, with a fixed match score."""

    def __init__(self, name: str, score: float, fail_in: str | None = None) -> None:
        self.name = name
        self.score = score
        self.fail_in = fail_in
        self.fed: list[tuple[str, bytes]] = []
        self.ended: list[Flow] = []

    def match(self, info) -> float:
        if self.fail_in == "match":
            raise RuntimeError("boom in match")
        return self.score

    def new_stream(self, flow, direction):
        if self.fail_in == "new_stream":
            raise RuntimeError("boom in new_stream")
        plugin = self

        class Parser:
            calls = 0

            def feed(self, data, ts):
                self.calls += 1
                if plugin.fail_in == "feed" and direction == SERVER:
                    raise ValueError("boom in feed")
                plugin.fed.append((direction, data))
                return [Seen(ts, None, direction, data)]

            def close(self, ts):
                return []

        return Parser()

    def on_session_end(self, flow):
        self.ended.append(flow)
        return {"records": len(self.fed), "secret": Secret("hunter2")}


def kinds(evs: list[Event]) -> list[str]:
    return [e.kind for e in evs]


# -- selection ---------------------------------------------------------------------------------------------

def test_highest_score_wins_and_fields_come_before_flow_end():
    low, high, no = Recorder("low", 0.1), Recorder("high", 0.9), Recorder("no", -1)
    host = PluginHost([low, high, no])
    f = flow()
    out = host.process(session(f, [(CLIENT, b"hello there, this is more than 24 bytes"), (SERVER, b"ok")]))
    assert high.fed == [(CLIENT, b"hello there, this is more than 24 bytes"), (SERVER, b"ok")]
    assert low.fed == [] and no.fed == []
    ks = kinds(out)
    assert ks.index("PluginFields") == len(ks) - 2 and ks[-1] == "FlowEnd"
    pf = out[-2]
    assert pf.plugin == "high" and pf.section == "high" and pf.fields_ == {"records": 2, "secret": "<redacted 7 chars>"}
    assert ks.count("Seen") == 2
    assert host.flows == {}  # per-flow state is freed at FlowEnd


def test_no_plugin_wants_it_and_undecrypted_flows_pass_through():
    no = Recorder("no", -1)
    host = PluginHost([no])
    f = flow()
    evs = session(f, [(CLIENT, b"x" * 40)])
    evs.insert(2, AppData(1.5, f, CLIENT, 100, None))  # an undecrypted record: not offered
    out = host.process(evs)
    assert kinds(out) == kinds(evs)
    assert no.ended == []


def test_no_plugins_is_the_identity():
    evs = session(flow(), [(CLIENT, b"GET / HTTP/1.1\r\n\r\n")])
    assert PluginHost([]).process(evs) is evs


@pytest.mark.parametrize("alpn, side, first, want", [
    ("h2", CLIENT, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "http2"),
    ("h2", SERVER, b"\x00\x00\x00\x04\x00\x00\x00\x00\x00", "http2"),  # the server's SETTINGS first: ALPN decides
    (None, CLIENT, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "http2"),
    ("http/1.1", CLIENT, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "http"),
    (None, CLIENT, b"POST /login HTTP/1.1\r\nHost: a\r\n\r\n", "http"),
    (None, SERVER, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "http"),
    (None, CLIENT, b"\x16\x03\x01 not http at all, something else", None),
    (None, CLIENT, b"EHLO mail.example.com\r\n", None),
])
def test_bundled_plugins_select_by_alpn_or_sniffing(alpn, side, first, want):
    host = PluginHost([HTTP1Plugin(), HTTP2Plugin()])
    f = flow()
    out = host.process(session(f, [(side, first)], alpn=alpn)[:-1])  # stop before FlowEnd to look inside
    chosen = host.flows[f.id].plugin
    assert (chosen.name if chosen else None) == want
    assert not [e for e in out if isinstance(e, Anomaly)]


def test_sniffing_waits_for_enough_bytes_across_one_byte_records():
    """TLS 1.0 CBC clients split records 1/n-1: the first record carries only "G"."""
    host = PluginHost([HTTP1Plugin(), HTTP2Plugin()])
    f = flow()
    out = host.process(session(f, [(CLIENT, b"G"), (CLIENT, b"ET /a HTTP/1.1\r\nHost: h\r\n\r\n"),
                                   (SERVER, b"H"), (SERVER, b"TTP/1.1 204 No Content\r\n\r\n")]))
    pf = [e for e in out if isinstance(e, PluginFields)]
    assert len(pf) == 1 and pf[0].plugin == "http"
    reqs = pf[0].fields_["requests"]
    assert [(r["method"], r["target"], r["status"]) for r in reqs] == [("GET", "/a", 204)]


def test_short_session_is_decided_at_flow_end():
    host = PluginHost([HTTP1Plugin()])
    out = host.process(session(flow(), [(CLIENT, b"GET / HTTP/1.0\r\n\r\n")]))
    pf = [e for e in out if isinstance(e, PluginFields)]
    assert pf and pf[0].fields_["requests"][0]["target"] == "/"


# -- safecall ----------------------------------------------------------------------------------------------

def test_a_raising_plugin_is_disabled_for_that_flow_and_reported():
    bad = Recorder("bad", 1.0, fail_in="feed")
    host = PluginHost([bad])
    f1, f2 = flow(1), flow(2)
    chunks = [(CLIENT, b"a" * 30), (SERVER, b"b" * 30), (CLIENT, b"c" * 30)]
    out = host.process(session(f1, chunks) + session(f2, chunks[:1]))
    errors = [e for e in out if isinstance(e, Anomaly)]
    assert len(errors) == 1
    err = errors[0]
    assert (err.layer, err.name, err.flow) == ("plugin", "plugin_error", f1)
    assert "bad" in err.detail and "feed" in err.detail and "ValueError: boom in feed" in err.detail
    # flow 1: the first record went in, the second raised, the third was never offered; flow 2 is unaffected
    assert bad.fed == [(CLIENT, b"a" * 30), (CLIENT, b"a" * 30)]
    assert [e.data for e in out if isinstance(e, Seen)] == [b"a" * 30, b"a" * 30]
    assert bad.ended == [f1, f2]  # on_session_end still runs, so the plugin can free its state
    assert kinds(out).count("FlowEnd") == 2 and host.errors == 1


@pytest.mark.parametrize("where", ["match", "new_stream"])
def test_errors_in_match_or_new_stream_are_reported(where):
    bad, good = Recorder("bad", 2.0, fail_in=where), Recorder("good", 0.5)
    host = PluginHost([bad, good])
    out = host.process(session(flow(), [(CLIENT, b"x" * 30)]))
    errors = [e for e in out if isinstance(e, Anomaly) and e.name == "plugin_error"]
    assert len(errors) == 1 and where in errors[0].detail
    if where == "match":  # the broken plugin is passed over, the next one gets the flow
        assert good.fed == [(CLIENT, b"x" * 30)]
    else:
        assert good.fed == [] and bad.fed == []


def test_a_plugin_returning_garbage_is_disabled():
    class Garbage(Recorder):
        def new_stream(self, flow, direction):
            class P:
                def feed(self, data, ts):
                    return ["not an event"]

                def close(self, ts):
                    return []
            return P()

    host = PluginHost([Garbage("g", 1)])
    out = host.process(session(flow(), [(CLIENT, b"x" * 30), (CLIENT, b"y")]))
    errors = [e for e in out if isinstance(e, Anomaly)]
    assert len(errors) == 1 and "not an Event" in errors[0].detail


def test_on_session_end_errors_and_bad_return_values():
    class BadEnd(Recorder):
        def on_session_end(self, flow):
            return ["not", "a", "dict"]

    out = PluginHost([BadEnd("b", 1)]).process(session(flow(), [(CLIENT, b"x" * 30)]))
    assert [e.name for e in out if isinstance(e, Anomaly)] == ["plugin_error"]
    assert not [e for e in out if isinstance(e, PluginFields)]


# -- redaction ---------------------------------------------------------------------------------------------

def test_host_redacts_plugin_events_and_fields_unless_asked():
    @dataclass(slots=True, eq=False)
    class Token(Event):
        value: object
        header: object

    class P(Recorder):
        def new_stream(self, flow, direction):
            class S:
                def feed(self, data, ts):
                    return [Token(ts, None, Secret("abc123"), cookie_text("sid=xyz; lang=en"))]

                def close(self, ts):
                    return []
            return S()

    f = flow()
    out = PluginHost([P("p", 1)]).process(session(f, [(CLIENT, b"x" * 30)]))
    tok = next(e for e in out if isinstance(e, Token))
    assert tok.flow is f  # the host fills in the flow
    assert tok.value == "<redacted 6 chars>" and tok.header == "sid=<redacted 3 chars>; lang=<redacted 2 chars>"
    shown = PluginHost([P("p", 1)], show_secrets=True).process(session(flow(), [(CLIENT, b"x" * 30)]))
    tok = next(e for e in shown if isinstance(e, Token))
    assert tok.value == "abc123" and tok.header == "sid=xyz; lang=en"
    pf = next(e for e in shown if isinstance(e, PluginFields))
    assert pf.fields_["secret"] == "hunter2"


def test_secret_never_prints_its_value():
    s = Secret("p4ssw0rd")
    assert str(s) == repr(s) == "<redacted 8 chars>"
    assert "p4ssw0rd" not in json.dumps({"x": s, "y": SecretText(["a=", s])}, default=str)
    assert scrub({"a": [s, (s,)], "b": 3}) == {"a": ["<redacted 8 chars>", ("<redacted 8 chars>",)], "b": 3}
    assert scrub({"a": [s]}, show_secrets=True) == {"a": ["p4ssw0rd"]}


def test_scrub_copies_containers_and_keeps_their_types():
    s = Secret("abc")

    class Mapping(dict):
        pass

    value = {"l": [1, "x", None, True, [s]], "t": (s, 2.5), "m": Mapping(k=s), "b": b"raw", "st": SecretText(["a=", s])}
    out = scrub(value)
    assert out == {"l": [1, "x", None, True, ["<redacted 3 chars>"]], "t": ("<redacted 3 chars>", 2.5),
                   "m": {"k": "<redacted 3 chars>"}, "b": b"raw", "st": "a=<redacted 3 chars>"}
    assert type(out["t"]) is tuple and type(out["m"]) is dict
    plain = {"a": [1, [2]]}
    copy = scrub(plain)
    assert copy == plain and copy is not plain and copy["a"] is not plain["a"] and copy["a"][1] is not plain["a"][1]
    vouched = Plain(a=[1, [2]])  # its maker vouches it holds no secret: copied shallowly, not walked
    copy = scrub(vouched)
    assert type(copy) is dict and copy == vouched and copy["a"] is vouched["a"]


def test_scrub_event_scrubs_the_fields_an_event_names_else_all():
    @dataclass(slots=True, eq=False)
    class Named(Event):
        a: object
        b: object
        secret_fields: ClassVar[tuple[str, ...]] = ("a",)

    @dataclass(slots=True, eq=False)
    class Unnamed(Event):
        a: object
        b: object

    s = Secret("abc")
    named = scrub_event(Named(0.0, None, [s], [s]))
    assert named.a == ["<redacted 3 chars>"] and named.b == [s]  # b is declared free of secrets: left alone
    unnamed = scrub_event(Unnamed(0.0, None, [s], {"k": (s,)}), show_secrets=True)
    assert unnamed.a == ["abc"] and unnamed.b == {"k": ("abc",)}


def test_redaction_helpers():
    assert str(target_text("/cb?code=abcd&state=xyz")) == "/cb?code=<redacted 4 chars>&state=xyz"
    assert target_text("/plain?x=1") == "/plain?x=1"
    assert str(authorization_text("Bearer tok.en.value")) == "Bearer <redacted 12 chars>"
    assert str(authorization_text("Basic YWxpY2U6c2VjcmV0")) == "Basic <redacted 16 chars>"
    assert parse_authorization("Basic YWxpY2U6c2VjcmV0")["user"] == "alice"
    assert parse_authorization("Basic YWxpY2U6c2VjcmV0")["password"] == Secret("secret")
    assert parse_authorization("Bearer abc")["token"] == Secret("abc")
    assert parse_authorization("Basic !!!")["error"]
    assert str(cookie_text("a=1; b=")) == "a=<redacted 1 chars>; b="


# -- the collector -----------------------------------------------------------------------------------------

def test_collector_merges_plugin_fields_and_keeps_other_plugin_events():
    @dataclass(slots=True, eq=False)
    class Other(Event):
        what: str

    f = flow()
    host = PluginHost([HTTP1Plugin()])
    evs = session(f, [(CLIENT, b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"), (SERVER, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")])
    evs.insert(-1, Other(3.0, f, "kept"))
    col = SessionCollector()
    for e in host.process(evs):
        col.add(e)
    doc = col.sessions[0]
    assert doc["http"]["requests"][0]["status"] == 200
    assert doc["events"] == [{"time": 3.0, "kind": "Other", "what": "kept"}]  # no HTTPRequest/PluginFields copies


def test_plugin_sections_cannot_replace_core_keys():
    class Bad(Recorder):
        section = "messages"

    col = SessionCollector()
    for e in PluginHost([Bad("bad", 1)]).process(session(flow(), [(CLIENT, b"x" * 30)])):
        col.add(e)
    doc = col.sessions[0]
    assert isinstance(doc["messages"], list) and doc["plugin_messages"]["records"] == 1


# -- entry points ------------------------------------------------------------------------------------------

def test_bundled_plugins_load_through_entry_points():
    entries = {e.name: e for e in discover()}
    assert entries["http"].value == "dissector_plugins.http:HTTP1Plugin" and entries["http"].error is None
    assert entries["http2"].value == "dissector_plugins.http2:HTTP2Plugin"
    names = [p.name for p in load_plugins()]
    assert "http" in names and "http2" in names
    assert [p.name for p in load_plugins(["http2"])] == ["http2"]
    with pytest.raises(ValueError, match="unknown plugin"):
        load_plugins(["nope"])


def test_third_party_and_broken_entry_points(tmp_path, monkeypatch):
    group = "dissector.plugins_test"
    (tmp_path / "tp_plugin.py").write_text(textwrap.dedent('''
        class Echo:
            """Echoes nothing."""
            name = "echo"
            def match(self, info):
                return 0.5
            def new_stream(self, flow, direction):
                return None
    '''))
    (tmp_path / "tp_broken.py").write_text("raise ImportError('missing dependency foo')\n")
    dist = tmp_path / "tp_plugins-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tp-plugins\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{group}]\necho = tp_plugin:Echo\nbroken = tp_broken:Plugin\nnotaplugin = json:dumps\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    entries = {e.name: e for e in discover(group)}
    assert entries["echo"].dist == "tp-plugins 1.0" and entries["echo"].description == "Echoes nothing."
    assert "missing dependency foo" in entries["broken"].error
    assert "not a plugin" in entries["notaplugin"].error
    err = io.StringIO()
    plugins = load_plugins(group=group, stderr=err)
    assert [p.name for p in plugins] == ["echo"]
    lines = err.getvalue().splitlines()
    assert len(lines) == 2 and any("broken" in line and "skipped" in line for line in lines)
    err2 = io.StringIO()
    load_plugins(group=group, stderr=err2)
    assert err2.getvalue() == ""  # reported once per process


def test_plugins_command_lists_the_bundled_plugins(capsys):
    from dissector.cli import main

    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "dissector_plugins.http:HTTP1Plugin" in out and "http2" in out
    assert main(["plugins", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["group"] == GROUP and {p["name"] for p in doc["plugins"]} >= {"http", "http2"}


def test_analyze_rejects_unknown_plugin_names(capsys, tmp_path):
    from dissector.cli import main

    assert main(["analyze", str(tmp_path / "none.pcap"), "--plugins", "nope"]) == 2
    assert "unknown plugin" in capsys.readouterr().err


def test_the_guide_example_plugin_works(tmp_path, monkeypatch):
    """docs/PLUGINS.md's minimal plugin, run as written, through an entry point."""
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[1] / "docs" / "PLUGINS.md").read_text()
    code = guide.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "dissector_banner.py").write_text(code)
    dist = tmp_path / "dissector_banner-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dissector-banner\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[dissector.plugins]\nbanner = dissector_banner:BannerPlugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = load_plugins(["http", "banner"])
    col = SessionCollector()
    evs = (session(flow(1), [(CLIENT, b"SSH-2.0-OpenSSH_9.6\r\n"), (SERVER, b"SSH-2.0-dropbear\r\nmore")])
           + session(flow(2), [(CLIENT, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")]))
    out = PluginHost(plugins).process(evs)
    for e in out:
        col.add(e)
    ssh, web = col.sessions
    assert ssh["banner"] == {"client": "SSH-2.0-OpenSSH_9.6", "server": "SSH-2.0-dropbear"}
    assert [e["kind"] for e in ssh["events"]] == ["Banner", "Banner"]
    assert "banner" not in web and web["http"]["requests"][0]["target"] == "/"
