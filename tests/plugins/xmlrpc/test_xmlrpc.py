"""XML-RPC over real HTTP on loopback, with the standard library's ServerProxy and MultiCall."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import http.client
import logging
import socket
import threading
import xmlrpc.client
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relays import Component, find_dispatcher, handler
from relays_http import Request, Response, Server
from relays_xmlrpc import (
    APPLICATION_ERROR,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    NOT_WELL_FORMED,
    SYSTEM_ERROR,
    XMLRPC,
    Fault,
    MethodCall,
    XMLRPCLimits,
)

pytestmark = pytest.mark.integration


class Calculator(Component):
    channel = "rpc"

    def __init__(self) -> None:
        super().__init__()
        self.log: list[Any] = []

    @handler("math.add")
    def add(self, a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @handler("math.divide")
    async def divide(self, a: float, b: float) -> float:
        await asyncio.sleep(0)
        if b == 0:
            raise Fault(42, "division by zero")
        return a / b

    def record(self, value: Any) -> bool:
        self.log.append(value)
        return True

    def last(self) -> Any:
        return self.log[-1]

    def broken(self) -> int:
        raise RuntimeError("secret detail")

    def nothing(self) -> None:
        return None

    def huge(self) -> int:
        return 2**40

    def echo(self, value: Any) -> Any:
        return value

    def text(self, size: int) -> str:
        return "x" * size

    async def sleepy(self, seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds

    @handler("who")
    def who(self, event: MethodCall) -> str:
        return str(event.request.path)


class Pages(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> Any:
        return "page" if request.path == "/page" else None


def start(*components: Any) -> Server:
    app = Server("tcp://127.0.0.1:0")
    for component in components:
        app += component
    app.start()
    app.wait_listening()
    return app


@pytest.fixture
def server() -> Iterator[Server]:
    rpc = XMLRPC(limits=XMLRPCLimits(max_request_size=64 * 1024, call_timeout=1.0))

    @rpc.register_function(name="strings.upper")
    def upper(text: str) -> str:
        """Upper-case *text*."""
        return text.upper()

    app = start(rpc, Calculator(), Pages())
    yield app
    app.stop()


def proxy(server: Server, path: str = "/RPC2", **options: Any) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(f"http://127.0.0.1:{server.port}{path}", **options)


def post(
    server: Server,
    body: bytes,
    *,
    headers: dict[str, str] | None = None,
    method: str = "POST",
    path: str = "/RPC2",
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        fields = {"Content-Type": "text/xml"} if headers is None else headers
        connection.request(method, path, body=body, headers=fields)
        reply = connection.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        connection.close()


def fault_of(body: bytes) -> xmlrpc.client.Fault:
    with pytest.raises(xmlrpc.client.Fault) as caught:
        xmlrpc.client.loads(body)
    return caught.value


def test_calls_with_dotted_names_events_and_functions(server: Server) -> None:
    with proxy(server) as client:
        assert client.math.add(2, 3) == 5
        assert client.math.divide(1, 4) == 0.25
        assert client.strings.upper("relays") == "RELAYS"
        assert client.who() == "/RPC2"


def test_faults_keep_their_code_and_are_not_logged(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    with proxy(server) as client, pytest.raises(xmlrpc.client.Fault) as caught:
        client.math.divide(1, 0)
    assert (caught.value.faultCode, caught.value.faultString) == (42, "division by zero")
    assert "division by zero" not in caplog.text, "a Fault is an answer, not a failure"


class _Seen(logging.Handler):
    """Sets *seen* once a record containing *text* is emitted (the kernel reports a
    handler's error after the caller has its answer: on 3.12+, a loop turn later)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


def test_other_errors_are_a_stable_fault_without_details(server: Server) -> None:
    watcher = _Seen("secret detail")
    logging.getLogger().addHandler(watcher)
    try:
        with proxy(server) as client, pytest.raises(xmlrpc.client.Fault) as caught:
            client.broken()
        assert caught.value.faultCode == APPLICATION_ERROR
        assert "secret" not in caught.value.faultString
        assert "Traceback" not in caught.value.faultString
        assert watcher.seen.wait(5), "the error is logged, server-side"
    finally:
        logging.getLogger().removeHandler(watcher)


def test_debug_faults_carry_the_traceback() -> None:
    app = start(XMLRPC(debug=True), Calculator())
    try:
        with proxy(app) as client, pytest.raises(xmlrpc.client.Fault) as caught:
            client.broken()
    finally:
        app.stop()
    assert "secret detail" in caught.value.faultString
    assert "Traceback" in caught.value.faultString


def test_unknown_methods_and_wrong_arguments_are_faults(server: Server) -> None:
    with proxy(server) as client:
        with pytest.raises(xmlrpc.client.Fault) as caught:
            client.nope()
        assert caught.value.faultCode == METHOD_NOT_FOUND
        with pytest.raises(xmlrpc.client.Fault) as caught:
            client.math.add(1)
        assert caught.value.faultCode == INVALID_PARAMS
        for name in ("started", "stopped", "registered"):
            with pytest.raises(xmlrpc.client.Fault) as caught:
                getattr(client, name)()
            assert caught.value.faultCode == METHOD_NOT_FOUND


def test_none_needs_allow_none(server: Server) -> None:
    with proxy(server, allow_none=True) as client, pytest.raises(xmlrpc.client.Fault) as caught:
        client.nothing()
    assert caught.value.faultCode == INTERNAL_ERROR
    app = start(XMLRPC(allow_none=True), Calculator())
    try:
        with proxy(app, allow_none=True) as client:
            assert client.nothing() is None
            assert client.echo([None, 1]) == [None, 1]
    finally:
        app.stop()


def test_results_that_xmlrpc_cannot_carry_are_faults(server: Server) -> None:
    with proxy(server) as client, pytest.raises(xmlrpc.client.Fault) as caught:
        client.huge()
    assert caught.value.faultCode == INTERNAL_ERROR


def test_dates_binary_structs_and_arrays_round_trip(server: Server) -> None:
    moment = datetime.datetime(2026, 11, 22, 20, 29, 27)
    value = {"when": moment, "blob": b"\x00\xff", "list": [1, 2.5, "three", True]}
    with proxy(server, use_builtin_types=True) as client:
        assert client.echo(value) == value


def test_a_slow_method_is_a_system_fault(server: Server) -> None:
    with proxy(server) as client, pytest.raises(xmlrpc.client.Fault) as caught:
        client.sleepy(5)
    assert caught.value.faultCode == SYSTEM_ERROR


def test_introspection(server: Server) -> None:
    with proxy(server) as client:
        names = client.system.listMethods()
        assert {"math.add", "math.divide", "strings.upper", "system.multicall"} <= set(names)
        assert "started" not in names
        assert client.system.methodHelp("math.add") == "Add two integers."
        assert client.system.methodHelp("strings.upper") == "Upper-case *text*."
        assert client.system.methodHelp("echo") == ""
        assert client.system.methodSignature("math.add") == [["int", "int", "int"]]
        assert client.system.methodSignature("math.divide") == [["double", "double", "double"]]
        assert client.system.methodSignature("echo") == "undef"
        assert client.system.methodSignature("system.listMethods") == [["array"]]
        assert "fault" in client.system.methodHelp("system.multicall")
        with pytest.raises(xmlrpc.client.Fault) as caught:
            client.system.methodHelp("nope")
        assert caught.value.faultCode == METHOD_NOT_FOUND
        with pytest.raises(xmlrpc.client.Fault) as caught:
            client.system.methodHelp()
        assert caught.value.faultCode == INVALID_PARAMS


def test_multicall_runs_in_order_and_reports_faults_per_call(server: Server) -> None:
    with proxy(server) as client:
        multi = xmlrpc.client.MultiCall(client)
        multi.record("first")
        multi.last()
        multi.math.add(1, 2)
        multi.math.divide(1, 0)
        multi.nope()
        results = multi()
        assert results[0] is True
        assert results[1] == "first"
        assert results[2] == 3
        with pytest.raises(xmlrpc.client.Fault) as caught:
            results[3]
        assert caught.value.faultCode == 42
        with pytest.raises(xmlrpc.client.Fault) as caught:
            results[4]
        assert caught.value.faultCode == METHOD_NOT_FOUND


def test_multicall_refuses_nesting_and_bad_shapes(server: Server) -> None:
    with proxy(server) as client:
        nested = client.system.multicall(
            [{"methodName": "system.multicall", "params": [[]]}, "junk", {"methodName": 1}]
        )
        assert [item["faultCode"] for item in nested] == [INVALID_PARAMS] * 3
        with pytest.raises(xmlrpc.client.Fault) as caught:
            client.system.multicall("not a list")
        assert caught.value.faultCode == INVALID_PARAMS
        with pytest.raises(xmlrpc.client.Fault) as caught:
            client.system.multicall([{"methodName": "echo", "params": [1]}] * 101)
        assert caught.value.faultCode == INVALID_PARAMS


def test_gzip_requests_and_responses(server: Server) -> None:
    transport = xmlrpc.client.Transport()
    transport.encode_threshold = 0  # compress every request
    with proxy(server, transport=transport) as client:
        assert client.text(10) == "x" * 10
        assert client.text(50_000) == "x" * 50_000
    body = xmlrpc.client.dumps((50_000,), "text").encode()
    status, headers, data = post(
        server, body, headers={"Content-Type": "text/xml", "Accept-Encoding": "gzip"}
    )
    assert (status, headers["content-encoding"], headers["vary"]) == (
        200,
        "gzip",
        "Accept-Encoding",
    )
    assert xmlrpc.client.loads(gzip.decompress(data))[0] == ("x" * 50_000,)
    status, headers, data = post(server, body)
    assert "content-encoding" not in headers
    assert xmlrpc.client.loads(data)[0] == ("x" * 50_000,)


def test_a_gzip_bomb_is_refused(server: Server) -> None:
    bomb = gzip.compress(b" " * (10 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    fields = {"Content-Type": "text/xml", "Content-Encoding": "gzip"}
    status, _, _ = post(server, bomb, headers=fields)
    assert status == 413
    status, _, data = post(server, b"not gzip at all", headers=fields)
    assert status == 200
    assert fault_of(data).faultCode == NOT_WELL_FORMED
    status, _, _ = post(
        server, b"x", headers={"Content-Type": "text/xml", "Content-Encoding": "br"}
    )
    assert status == 415


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<methodCall><methodName>echo</methodName>
<params><param><value><string>&lol5;</string></value></param></params></methodCall>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE call [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>echo</methodName>
<params><param><value><string>&secret;</string></value></param></params></methodCall>"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_entities_and_dtds_are_refused(server: Server, document: bytes) -> None:
    status, _, data = post(server, document)
    assert status == 200
    fault = fault_of(data)
    assert fault.faultCode == NOT_WELL_FORMED
    assert "root:" not in fault.faultString


def test_oversized_documents_are_refused(server: Server) -> None:
    status, _, _ = post(server, xmlrpc.client.dumps(("x" * 70_000,), "echo").encode())
    assert status == 413


def test_bad_documents_are_faults(server: Server) -> None:
    status, _, data = post(server, b"<methodCall><methodName>echo")
    assert (status, fault_of(data).faultCode) == (200, NOT_WELL_FORMED)
    _, _, data = post(server, xmlrpc.client.dumps((1,), methodresponse=True).encode())
    assert fault_of(data).faultCode == INVALID_REQUEST
    _, _, data = post(server, b"<methodCall><params></params></methodCall>")
    assert fault_of(data).faultCode == INVALID_REQUEST


def test_values_nested_too_deep_are_a_fault_not_a_500(server: Server) -> None:
    document = b"<array><data><value>" * 1000 + b"<int>1</int>" + b"</value></data></array>" * 1000
    body = b"<methodCall><methodName>echo</methodName><params><param><value>"
    body += document + b"</value></param></params></methodCall>"
    status, _, data = post(server, body)
    assert (status, fault_of(data).faultCode) == (200, INVALID_REQUEST)


def test_http_checks(server: Server) -> None:
    status, headers, _ = post(server, b"", method="GET")
    assert (status, headers["allow"]) == (405, "POST")
    body = xmlrpc.client.dumps((1,), "echo").encode()
    status, _, _ = post(server, body, headers={"Content-Type": "text/plain"})
    assert status == 415
    status, _, data = post(server, body, headers={"Content-Type": "application/xml"})
    assert xmlrpc.client.loads(data)[0] == (1,)
    status, _, data = post(server, b"", method="GET", path="/page")
    assert (status, data) == (200, b"page")


def test_the_dispatcher_hook_and_arguments() -> None:
    assert find_dispatcher("xmlrpc") is XMLRPC
    with pytest.raises(ValueError, match="start with"):
        XMLRPC("RPC2")
    with pytest.raises(ValueError, match="call_timeout"):
        XMLRPCLimits(call_timeout=0)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(lambda text: f"<methodCall>{text}</methodCall>".encode()),
        st.sampled_from([b"<?xml version='1.0'?>", b"<methodCall/>", b"<!DOCTYPE a>"]),
    ),
    gzipped=st.booleans(),
)
def test_any_bytes_posted_get_a_well_formed_fault(
    server: Server, data: bytes, gzipped: bool
) -> None:
    fields = {"Content-Type": "text/xml"}
    if gzipped:
        data = gzip.compress(data)
        fields["Content-Encoding"] = "gzip"
    status, _, body = post(server, data, headers=fields)
    assert status == 200
    # Well-formed: a methodResponse with a fault that parses.
    with pytest.raises(xmlrpc.client.Fault) as caught:
        xmlrpc.client.loads(body)
    assert isinstance(caught.value.faultCode, int)


def test_the_fields_written_are_lower_case(server: Server) -> None:
    # Other tests read fields without regard to case; this one pins the bytes written.
    body = xmlrpc.client.dumps((50_000,), "text").encode()
    head = "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
    head += f"Accept-Encoding: gzip\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head.encode() + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert b"\r\ncontent-encoding: gzip\r\n" in data
    assert b"\r\nvary: Accept-Encoding\r\n" in data
