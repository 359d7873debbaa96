"""Application-layer plugins: the protocol, the host that drives them, and entry-point loading.

A plugin is offered each TLS session once its first plaintext arrives (`match`, highest score wins,
negative means no), then gets one sans-IO `StreamParser` per direction (`new_stream`) which is fed that
direction's decrypted bytes in order and closed at the end of the flow. At the flow's end the optional
`on_session_end(flow)` hook returns fields that go into the session document under the plugin's
`section` (default: its `name`), e.g. doc["http"].

`PluginHost` sits after `Pipeline` as an event transformer: `process(events)` returns the events with
the plugin events they caused, in order, and a `PluginFields` event just before each `FlowEnd`.
Every plugin call goes through `safecall`: an exception becomes an `Anomaly(layer="plugin",
name="plugin_error")` and that plugin gets no more data for that flow; the analysis goes on.

Plugins register under the entry-point group `dissector.plugins` (`name = "module:Class"`); the
bundled ones in plugins/dissector_plugins are loaded the same way.
"""
from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import IO, Any, ClassVar, Protocol, runtime_checkable

from dissector.events import CLIENT, SERVER, Anomaly, AppData, Event, Flow, FlowEnd, SessionInfo
from dissector.redact import scrub, scrub_event

GROUP = "dissector.plugins"
log = logging.getLogger("dissector.plugins")

# keys of the session document a plugin section may not replace
RESERVED_SECTIONS = frozenset({
    "id", "client", "server", "version", "cipher_suite", "sni", "alpn", "resumed", "messages", "decryption",
    "app_data", "app_records", "history", "events", "tcp", "anomalies", "end", "capture", "capture_index",
    "certificates", "fingerprints", "findings", "transport", "upgrade", "cleartext",
})


@dataclass(slots=True)
class SessionMatch:
    """What a plugin is shown to decide whether it wants a session."""

    flow: Flow
    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    sni: str | None = None
    alpn: str | None = None
    version: str | None = None
    decrypted: bool = False
    direction: str = CLIENT  # the direction of the first plaintext
    data: bytes = b""  # the first plaintext bytes seen on the session (up to 64 bytes), for sniffing


class StreamParser(Protocol):
    """One direction of one session. Sans-IO: bytes in, events out. Optional, found by name:
    feed_stream(stream, data, ts, fin) -> list[Event], which a QUIC session's bytes then go to, stream by stream."""

    def feed(self, data: bytes, ts: float) -> list[Event]: ...

    def close(self, ts: float) -> list[Event]: ...


class BufferedStream:
    """A StreamParser that keeps its direction's bytes (at most `limit`) for the plugin to read when the session
    ends: for exchanges small enough to read whole (an inner authentication, a VPN's control messages)."""

    def __init__(self, buf: bytearray, limit: int = 1 << 16) -> None:
        self.buf = buf  # (the plugin keeps it, per flow and direction)
        self.limit = limit

    def feed(self, data: bytes, ts: float) -> list[Event]:
        room = self.limit - len(self.buf)
        if room > 0:
            self.buf += data[:room]
        return []

    def close(self, ts: float) -> list[Event]:
        return []


class BufferedPlugin:
    """The base of a plugin that reads a session's small exchange whole at its end: each direction's bytes are kept
    (`BufferedStream`, per flow) and handed to `read(client, server)`, whose fields become the session's section."""

    def __init__(self) -> None:
        self._sessions: dict[Flow, dict[str, bytearray]] = {}

    def new_stream(self, flow: Flow, direction: str) -> BufferedStream:
        buffers = self._sessions.setdefault(flow, {CLIENT: bytearray(), SERVER: bytearray()})
        return BufferedStream(buffers[direction])

    def on_session_end(self, flow: Flow) -> dict[str, Any] | None:
        buffers = self._sessions.pop(flow, None)
        return self.read(bytes(buffers[CLIENT]), bytes(buffers[SERVER])) if buffers else None

    def read(self, client: bytes, server: bytes) -> dict[str, Any] | None:
        raise NotImplementedError


class SessionPlugin:
    """The base of a plugin that reads each session as it comes into one object per flow: `session(flow)` makes it,
    `stream(session, direction)` a direction's parser on it, and its `fields()` become the session's section."""

    def __init__(self) -> None:
        self._sessions: dict[Flow, Any] = {}

    def new_stream(self, flow: Flow, direction: str) -> Any:
        s = self._sessions.get(flow)
        if s is None:
            s = self._sessions[flow] = self.session(flow)
        return self.stream(s, direction)

    def on_session_end(self, flow: Flow) -> dict[str, Any] | None:
        s = self._sessions.pop(flow, None)
        return s.fields() if s is not None else None

    def session(self, flow: Flow) -> Any:
        raise NotImplementedError

    def stream(self, session: Any, direction: str) -> Any:
        raise NotImplementedError


@runtime_checkable
class Plugin(Protocol):
    name: str

    def match(self, info: SessionMatch) -> float: ...

    def new_stream(self, flow: Flow, direction: str) -> StreamParser | None: ...

    # optional, found by name: on_session_end(self, flow) -> dict | None


@dataclass(slots=True, eq=False)
class PluginFields(Event):
    """A plugin's fields for one session, merged into the session document as doc[section] = fields."""

    plugin: str
    section: str
    fields_: dict[str, Any] = field(default_factory=dict)
    summarized: ClassVar[bool] = True  # already in the session document: not listed again under "events"

    def fields(self) -> dict[str, Any]:  # type: ignore[override]
        return {"plugin": self.plugin, "section": self.section, "fields": self.fields_}


def section_of(plugin: Any) -> str:
    section = getattr(plugin, "section", None) or plugin.name
    return section if section not in RESERVED_SECTIONS else f"plugin_{section}"


SNIFF_BYTES = 24  # plaintext held back before choosing a plugin without ALPN (1/n-1 splitting sends "G" alone)
SNIFF_RECORDS = 8


class _FlowState:
    __slots__ = ("flow", "info", "plugin", "parsers", "disabled", "decided", "held")

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.info: SessionInfo | None = None
        self.plugin: Any = None
        self.parsers: dict[str, Any] = {}
        self.disabled = False
        self.decided = False
        self.held: list[AppData] = []  # the first records, until a plugin is chosen


class PluginHost:
    """Runs plugins over the event stream of one Pipeline (one capture)."""

    def __init__(self, plugins: Sequence[Any], show_secrets: bool = False) -> None:
        self.plugins = list(plugins)
        self.show_secrets = show_secrets
        self.flows: dict[int, _FlowState] = {}  # keyed by Flow.id, like the session collector
        self.errors = 0

    # -- the event transformer ------------------------------------------------------------------------
    def process(self, events: Iterable[Event]) -> list[Event]:
        if not self.plugins:
            return events if isinstance(events, list) else list(events)
        out: list[Event] = []
        for ev in events:
            t = type(ev)
            if t is AppData:
                out.append(ev)
                if ev.data or ev.fin:
                    self._app_data(ev, out)
            elif t is SessionInfo:
                st = self._state(ev.flow)
                if st is not None:
                    st.info = ev
                out.append(ev)
            elif t is FlowEnd:
                self._flow_end(ev, out)
                out.append(ev)
            else:
                out.append(ev)
        return out

    def finish(self, ts: float = 0.0) -> list[Event]:
        """End flows that never got a FlowEnd (the pipeline normally ends every flow itself)."""
        out: list[Event] = []
        for st in list(self.flows.values()):
            end = FlowEnd(ts, st.flow, "end of capture")
            self._flow_end(end, out)
            out.append(end)
        self.flows.clear()
        return out

    # -- internals ---------------------------------------------------------------------------------------
    def _state(self, flow: Flow | None) -> _FlowState | None:
        if flow is None:
            return None
        st = self.flows.get(flow.id)
        if st is None:
            st = self.flows[flow.id] = _FlowState(flow)
        return st

    def _app_data(self, ev: AppData, out: list[Event]) -> None:
        st = self._state(ev.flow)
        if st is None or st.disabled:
            return
        if not st.decided:
            st.held.append(ev)
            info = st.info
            first = [e for e in st.held if e.direction == st.held[0].direction]
            if not (info is not None and info.alpn) and sum(len(e.data) for e in first) < SNIFF_BYTES \
                    and len(st.held) < SNIFF_RECORDS:
                return
            self._decide(st, out)
            return
        self._feed(st, ev, out)

    def _decide(self, st: _FlowState, out: list[Event]) -> None:
        held, st.held = st.held, []
        st.decided = True
        self._select(st, held, out)
        for e in held:
            self._feed(st, e, out)

    def _feed(self, st: _FlowState, ev: AppData, out: list[Event]) -> None:
        if st.plugin is None or st.disabled:
            return
        parser = st.parsers.get(ev.direction)
        if parser is not None:
            if ev.stream is not None and hasattr(parser, "feed_stream"):  # QUIC: the stream and its end too
                ok, evs = self.safecall(out, st, ev.ts, "feed", parser.feed_stream, ev.stream, bytes(ev.data), ev.ts,
                                        ev.fin)
            else:
                ok, evs = self.safecall(out, st, ev.ts, "feed", parser.feed, bytes(ev.data), ev.ts)
            if ok:
                self._emit(evs, st, ev.ts, out)

    def _select(self, st: _FlowState, held: list[AppData], out: list[Event]) -> None:
        flow, info, ev = st.flow, st.info, held[0]
        data = b"".join(bytes(e.data) for e in held if e.direction == ev.direction)[:64]
        m = SessionMatch(flow, flow.client_ip, flow.client_port, flow.server_ip, flow.server_port,
                         sni=info.sni if info else None, alpn=info.alpn if info else None,
                         version=info.version if info else None, decrypted=True,
                         direction=ev.direction, data=data)
        best, best_score = None, -1.0
        for plugin in self.plugins:
            try:
                score = float(plugin.match(m))
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the analysis
                out.append(self._error(plugin, "match", exc, ev.ts, flow))
                continue
            if score >= 0 and score > best_score:
                best, best_score = plugin, score
        if best is None:
            return
        st.plugin = best
        for direction in (CLIENT, SERVER):
            ok, parser = self.safecall(out, st, ev.ts, "new_stream", best.new_stream, flow, direction)
            if not ok:
                return
            if parser is not None:
                st.parsers[direction] = parser

    def _flow_end(self, ev: FlowEnd, out: list[Event]) -> None:
        st = self.flows.pop(ev.flow.id, None) if ev.flow is not None else None
        if st is None:
            return
        if not st.decided and st.held:
            self._decide(st, out)
        if st.plugin is None:
            return
        for direction in (CLIENT, SERVER):
            parser = st.parsers.get(direction)
            if parser is not None and not st.disabled:
                ok, evs = self.safecall(out, st, ev.ts, "close", parser.close, ev.ts)
                if ok:
                    self._emit(evs, st, ev.ts, out)
        plugin = st.plugin
        hook = getattr(plugin, "on_session_end", None)
        if hook is None:
            return
        # called even after an error, so that the plugin frees its per-flow state and reports what it saw
        try:
            fields = hook(st.flow)
        except Exception as exc:  # noqa: BLE001
            out.append(self._error(plugin, "on_session_end", exc, ev.ts, st.flow))
            return
        if not fields:
            return
        if not isinstance(fields, dict):
            out.append(self._error(plugin, "on_session_end",
                                   TypeError(f"returned {type(fields).__name__}, not a dict"), ev.ts, st.flow))
            return
        out.append(PluginFields(ev.ts, st.flow, plugin.name, section_of(plugin), scrub(fields, self.show_secrets)))

    def safecall(self, out: list[Event], st: _FlowState, ts: float, where: str, fn: Callable, *args: Any) -> tuple[bool, Any]:
        """Call into the flow's plugin. On an exception: append a plugin_error Anomaly to `out`, disable the
        plugin for this flow, return (False, None)."""
        try:
            return True, fn(*args)
        except Exception as exc:  # noqa: BLE001 - a plugin bug is reported, never fatal
            st.disabled = True
            out.append(self._error(st.plugin, where, exc, ts, st.flow))
            return False, None

    def _error(self, plugin: Any, where: str, exc: BaseException, ts: float, flow: Flow | None) -> Anomaly:
        self.errors += 1
        name = getattr(plugin, "name", type(plugin).__name__)
        log.debug("plugin %s failed in %s", name, where, exc_info=exc)
        return Anomaly(ts, flow, "plugin", "plugin_error", f"plugin {name} failed in {where}: {type(exc).__name__}: {exc}")

    def _emit(self, evs: Any, st: _FlowState, ts: float, out: list[Event]) -> None:
        if not evs:
            return
        try:
            items = list(evs)
        except TypeError as exc:
            st.disabled = True
            out.append(self._error(st.plugin, "feed", exc, ts, st.flow))
            return
        for e in items:
            if not isinstance(e, Event):
                st.disabled = True
                out.append(self._error(st.plugin, "feed", TypeError(f"returned {type(e).__name__}, not an Event"),
                                       ts, st.flow))
                return
            if e.flow is None:
                e.flow = st.flow
            out.append(scrub_event(e, self.show_secrets))


# -- discovery and loading ---------------------------------------------------------------------------------

@dataclass
class PluginEntry:
    """One installed plugin as found through its entry point."""

    name: str
    value: str  # "module:attr"
    dist: str | None  # "dissector 0.1.0"
    plugin: Any = None
    error: str | None = None

    @property
    def description(self) -> str:
        doc = (getattr(self.plugin, "__doc__", None) or "").strip()
        return doc.splitlines()[0] if doc else ""


_reported: set[tuple[str, str]] = set()


def discover(group: str = GROUP) -> list[PluginEntry]:
    """Every entry point of the group, loaded (a broken one carries `error` instead of `plugin`)."""
    found: list[PluginEntry] = []
    seen: set[str] = set()
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        if ep.name in seen:  # the same distribution visible twice on sys.path
            continue
        seen.add(ep.name)
        found.append(_load(ep))
    return found


def _load(ep: EntryPoint) -> PluginEntry:
    dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else None
    entry = PluginEntry(ep.name, ep.value, dist)
    try:
        obj = ep.load()
        plugin = obj() if isinstance(obj, type) else obj
        missing = [a for a in ("name", "match", "new_stream") if not hasattr(plugin, a)]
        if missing:
            raise TypeError(f"not a plugin: no {', '.join(missing)}")
        entry.plugin = plugin
    except Exception as exc:  # noqa: BLE001 - a broken plugin is reported and skipped
        entry.error = f"{type(exc).__name__}: {exc}"
    return entry


def load_plugins(names: Sequence[str] | None = None, group: str = GROUP, stderr: IO[str] | None = None) -> list[Any]:
    """The installed plugins (all, or those named, in the order named). A broken entry point is reported
    on stderr once per process and skipped; an unknown name raises ValueError."""
    stderr = stderr if stderr is not None else sys.stderr
    entries = discover(group)
    by_name = {e.name: e for e in entries}
    if names is not None:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ValueError(f"unknown plugin(s): {', '.join(unknown)} (installed: {', '.join(by_name) or 'none'})")
        entries = [by_name[n] for n in names]
    plugins = []
    for e in entries:
        if e.error is not None:
            key = (e.name, e.value)
            if key not in _reported:
                _reported.add(key)
                print(f"dissector: warning: plugin {e.name} ({e.value}) cannot be loaded: {e.error} (skipped)",
                      file=stderr)
            continue
        plugins.append(e.plugin)
    return plugins
