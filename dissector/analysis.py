"""Running the pipeline over capture files: the glue between readers, Pipeline and outputs."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dissector.capture.reader import open_capture
from dissector.events import Event
from dissector.findings import SEVERITIES
from dissector.output.sessions import SessionCollector
from dissector.pipeline import Pipeline
from dissector.plugins import PluginHost
from dissector.tls.keystore import KeyStore


@dataclass
class RunResult:
    packets: int = 0
    truncated: list[str] = field(default_factory=list)  # warnings for captures that ended early
    pipeline_stats: list = field(default_factory=list)
    decryption: dict[str, int] = field(default_factory=dict)
    sessions: int = 0
    findings: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))  # by severity

    def counts(self) -> dict[str, Any]:
        """What the run summary reports: packets, sessions (cleartext_sessions of them read in the clear by the
        plugins), decryption, findings, non_tls_flows, quic_packets, snapped_packets, anomalies (summed over the
        captures) and the truncation warnings."""
        anomalies: dict[str, int] = {}
        for s in self.pipeline_stats:
            add_counts(anomalies, s.anomalies)
        return {"packets": self.packets, "sessions": self.sessions, "decryption": self.decryption,
                "findings": self.findings, "non_tls_flows": sum(s.non_tls_flows for s in self.pipeline_stats),
                "quic_packets": sum(s.quic for s in self.pipeline_stats),
                "cleartext_sessions": sum(s.cleartext_flows for s in self.pipeline_stats),
                "snapped_packets": sum(s.snapped for s in self.pipeline_stats),
                "anomalies": anomalies, "truncated": self.truncated}


def add_counts(total: dict[str, int], more: dict[str, int]) -> None:
    """Add one {name: count} dict into another."""
    for k, v in more.items():
        total[k] = total.get(k, 0) + v


class Analysis:
    """One capture's analysis chain: Pipeline -> plugins -> SessionCollector, fed frame by frame.

    Every event goes to the collector and then to `on_event`; each finished session document is counted
    (sessions, decryption status, findings by severity) and handed to `on_session`. Files (`run_captures`)
    and live interfaces (`dissector live`) both drive one of these."""

    def __init__(self, keys: KeyStore, on_event: Callable[[Event], None] | None = None,
                 on_session: Callable[[dict], None] | None = None, plugins: Sequence | None = None,
                 show_secrets: bool = False, details: bool = True, pipeline_options: dict | None = None,
                 messages: bool = True) -> None:
        self.on_event = on_event
        self.on_session = on_session
        self.sessions = 0
        self.decryption: dict[str, int] = {}
        self.findings: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
        self.pipe = Pipeline(keys, **{"cleartext_http": bool(plugins), **(pipeline_options or {})})
        self.host = PluginHost(plugins, show_secrets) if plugins else None
        self.collector = SessionCollector(self._session_done, keep=False, details=details, messages=messages,
                                          show_secrets=show_secrets)
        self._pipe_feed = self.pipe.feed
        self._add = self.collector.add

    def feed(self, ts: float, linktype: int, frame: Any) -> list[Event]:
        """One frame through the chain; returns the events it caused (already handed on)."""
        evs = self._pipe_feed(ts, linktype, frame)
        if evs:
            if self.host is not None:
                evs = self.host.process(evs)
            self._hand_on(evs)
        return evs

    def finish(self) -> list[Event]:
        """End of input: every open flow is ended, its events handed on."""
        tail = self.pipe.finish()
        if self.host is not None:
            tail = self.host.process(tail) + self.host.finish(self.pipe.now)
        self._hand_on(tail)
        return tail

    def _hand_on(self, evs: list[Event]) -> None:
        add, on_event = self._add, self.on_event
        for ev in evs:
            add(ev)
            if on_event is not None:
                on_event(ev)

    def _session_done(self, doc: dict) -> None:
        self.sessions += 1
        st = doc["decryption"]["status"]
        self.decryption[st] = self.decryption.get(st, 0) + 1
        for item in doc.get("findings") or ():
            self.findings[item["severity"]] = self.findings.get(item["severity"], 0) + 1
        if self.on_session is not None:
            self.on_session(doc)


def run_captures(paths: Iterable[str], keys: KeyStore, on_event: Callable[[Event], None] | None = None,
                 on_session: Callable[[dict], None] | None = None, progress: Callable[[int, int | None], None] | None = None,
                 pipeline_options: dict | None = None, plugins: Sequence | None = None,
                 show_secrets: bool = False, details: bool = True, position: list | None = None,
                 on_pipeline: Callable[[Pipeline], None] | None = None, messages: bool = True) -> RunResult:
    """Analyse each capture in turn with one shared KeyStore (so resumption works across files).

    `plugins` (see dissector.plugins.load_plugins) run over each session's plaintext; their events
    follow the pipeline's, with secrets redacted unless `show_secrets`. Session documents get "capture"
    and "capture_index". `position`, when given, is kept at [capture index, packet number] while events
    are handed out (parallel runs order by it); `on_pipeline` sees each capture's Pipeline before its
    first packet. `messages=False`: session documents count their messages instead of listing them (and
    list no TCP events), for outputs that show the events themselves (jsonl)."""
    result = RunResult()
    current = ["", 0]

    def session_done(doc: dict) -> None:
        doc["capture"] = current[0]
        doc["capture_index"] = current[1]
        if on_session is not None:
            on_session(doc)

    for index, path in enumerate(paths):
        current[0], current[1] = path, index
        if position is not None:
            position[0], position[1] = index, 0
        analysis = Analysis(keys, on_event, session_done, plugins, show_secrets, details, pipeline_options, messages)
        if on_pipeline is not None:
            on_pipeline(analysis.pipe)
        with open_capture(path) as cap:
            cap.on_secrets = keys.add_secrets_block
            if position is None and progress is None:
                _feed_all(cap, analysis)
            else:
                n = 0
                feed = analysis.feed
                for ts, linktype, frame in cap:
                    if position is not None:
                        position[1] = n
                    feed(ts, linktype, frame)
                    n += 1
                    if progress is not None and not n & 0x3FFF:
                        progress(cap.bytes_read, cap.size)
                if position is not None:
                    position[1] = n
            analysis.finish()
            _add_analysis(result, analysis)
            if cap.truncated:
                result.truncated.append(f"{path}: {cap.warning or 'capture truncated'}")
    return result


def _feed_all(cap: Any, analysis: Analysis) -> None:
    """Analysis.feed over every frame, inlined: the loop of a run with no progress or position to keep."""
    pipe_feed, host, hand_on = analysis.pipe.feed, analysis.host, analysis._hand_on
    for ts, linktype, frame in cap:
        evs = pipe_feed(ts, linktype, frame)
        if evs:
            hand_on(host.process(evs) if host is not None else evs)


def _add_analysis(result: RunResult, analysis: Analysis) -> None:
    result.packets += analysis.pipe.stats.packets
    result.pipeline_stats.append(analysis.pipe.stats)
    result.sessions += analysis.sessions
    add_counts(result.decryption, analysis.decryption)
    add_counts(result.findings, analysis.findings)


def print_progress_factory(stream=sys.stderr) -> Callable[[int, int | None], None]:
    def show(done: int, total: int | None) -> None:
        if total:
            pct = min(100.0, 100.0 * done / total)
            bar = "#" * int(pct / 4)
            stream.write(f"\r[{bar:<25}] {pct:5.1f}%")
        else:
            stream.write(f"\r{done / 1e6:8.1f} MB read")
        stream.flush()
    return show
