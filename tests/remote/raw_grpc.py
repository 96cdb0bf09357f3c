"""Talking to a `remotemedia serve` directly over gRPC, as a foreign peer would: no generated code,
just the service's method paths and a few lines of protobuf wire format (proto/remotemedia/v1).

What the tests need that the `remotemedia` client never does on purpose: ask a server how many node
streams it has open (`Describe.active_nodes`) and send it a message larger than its limit."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

SERVICE = "/remotemedia.v1.RemoteNodes"
CALL_TIMEOUT_S = 10
# DescribeResponse field 4: RunNode streams open now.
ACTIVE_NODES_FIELD = 4


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def _fields(message: bytes) -> dict[int, int | bytes]:
    """A message's top-level fields, by number (the last occurrence of each)."""
    fields: dict[int, int | bytes] = {}
    position = 0
    while position < len(message):
        key, position = _varint(message, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            fields[number], position = _varint(message, position)
        elif wire_type == 1:
            fields[number], position = message[position : position + 8], position + 8
        elif wire_type == 2:
            length, position = _varint(message, position)
            fields[number], position = message[position : position + length], position + length
        elif wire_type == 5:
            fields[number], position = message[position : position + 4], position + 4
        else:
            raise ValueError(f"wire type {wire_type} in a DescribeResponse")
    return fields


def active_nodes(address: str) -> int:
    """`Describe`'s `active_nodes`: the node streams the server has open now (0 is left out on the wire)."""
    with grpc.insecure_channel(address) as channel:
        describe = channel.unary_unary(
            f"{SERVICE}/Describe", request_serializer=lambda _: b"", response_deserializer=lambda raw: raw
        )
        response = describe(None, timeout=CALL_TIMEOUT_S)
    value = _fields(response).get(ACTIVE_NODES_FIELD, 0)
    assert isinstance(value, int)
    return value


def run_node_status(address: str, *messages: bytes) -> grpc.StatusCode:
    """Opens a `RunNode` stream, sends `messages` (encoded `NodeRequest`s, or any bytes) and returns
    the status the server ends the stream with."""

    def requests() -> Iterator[bytes]:
        yield from messages

    with grpc.insecure_channel(address, options=[("grpc.max_send_message_length", -1)]) as channel:
        run_node = channel.stream_stream(
            f"{SERVICE}/RunNode", request_serializer=lambda raw: raw, response_deserializer=lambda raw: raw
        )
        try:
            for _ in run_node(requests(), timeout=CALL_TIMEOUT_S):
                pass
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK
