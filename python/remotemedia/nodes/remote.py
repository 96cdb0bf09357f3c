"""Running a node on another remotemedia instance.

Wrap any node in a `RemoteExecutionNode` and the manifest asks the runtime to run it on that
instance: the entry is the wrapped node's own (type, params, capabilities) plus `"host": "host:port"`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from remotemedia.core.exceptions import ConfigurationError
from remotemedia.core.node import Node

DEFAULT_PORT = 50051


@dataclass(frozen=True)
class RemoteExecutorConfig:
    """Where a remote remotemedia instance listens."""

    host: str
    port: int = DEFAULT_PORT

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host or any(ch.isspace() or ch == "/" for ch in self.host):
            raise ConfigurationError(f"remote host must be a host name or IP address, got {self.host!r}")
        if not isinstance(self.port, int) or isinstance(self.port, bool) or not 1 <= self.port <= 65535:
            raise ConfigurationError(f"remote port must be an integer in 1-65535, got {self.port!r}")

    @classmethod
    def from_address(cls, address: str) -> RemoteExecutorConfig:
        """Parse a manifest `host`: `host:port`, or `[ipv6]:port`."""
        host, separator, port = address.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not separator or not port.isdigit():
            raise ConfigurationError(f"remote address must be 'host:port', got {address!r}")
        return cls(host, int(port))

    @property
    def address(self) -> str:
        """`host:port`, with an IPv6 address in brackets so the port stays unambiguous."""
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{self.port}"


class RemoteExecutionNode(Node):
    """Runs `node` on the remotemedia instance described by `config` (named after `node` by default).

    Only the runtime can reach remote instances: running this node in the local CPython pipeline
    is an error at initialize, rather than silently running it locally.
    """

    def __init__(self, node: Node, config: RemoteExecutorConfig, name: str | None = None) -> None:
        if not isinstance(node, Node):
            raise ConfigurationError(f"RemoteExecutionNode wraps a Node, got {type(node).__name__}")
        if not isinstance(config, RemoteExecutorConfig):
            raise ConfigurationError(f"RemoteExecutionNode needs a RemoteExecutorConfig, got {type(config).__name__}")
        super().__init__(name=name if name is not None else node.name)
        self.node = node
        self.remote = config

    def initialize(self) -> None:
        raise ConfigurationError(
            f"node '{self.name}' runs on {self.remote.address}; the local Python runner cannot reach remote "
            "instances — run the pipeline's manifest with the remotemedia runtime"
        )

    def process(self, data: Any) -> Any:
        raise ConfigurationError(f"node '{self.name}' runs on {self.remote.address}, not locally")

    def get_capabilities(self) -> dict[str, Any] | None:
        return self.node.get_capabilities()

    def to_manifest(self, include_capabilities: bool = True) -> dict[str, Any]:
        entry = self.node.to_manifest(include_capabilities=include_capabilities)
        entry["host"] = self.remote.address
        return entry
